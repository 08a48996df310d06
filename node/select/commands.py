"""``lipo-node select DIR``: print the T1 decision for a folder of DICOM files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from node.config import load_config
from node.errors import LipoNodeError
from node.select.completeness import series_problems
from node.select.index import StudyIndex
from node.select.rules import SeriesChoice, choose_series, score_study


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("select", help="choose the T1 series of a folder of DICOM files (explained)")
    p.add_argument("dir", type=Path, help="folder with the study's DICOM files (searched recursively)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_select)


def _choice_json(choice: SeriesChoice) -> dict[str, object]:
    return {"study_uid": choice.study_uid, **choice.selection.model_dump(mode="json")}


def _select(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if not args.dir.is_dir():
        raise LipoNodeError(f"{args.dir} is not a folder")
    study = StudyIndex.from_folder(args.dir)
    if not study.series:
        raise LipoNodeError(f"no DICOM files found in {args.dir}")
    rules = cfg.select.rules
    try:
        choice = choose_series(study, rules)
    except LipoNodeError as exc:
        scores = score_study(study, rules)
        if args.json:
            print(json.dumps({"error": exc.code, "message": str(exc), "series": [
                {"series_uid": s.series_uid, "description": s.description, "reasons": s.reasons}
                for s in scores]}, indent=2))
            return 1
        for s in scores:  # why nothing qualified, then the coded error
            score = f"{s.score:7.1f}" if s.eligible else "      -"
            print(f"  {score}  {s.n_images:>6}  {s.orientation:<9} {s.description[:28]:<28} "
                  + "; ".join(s.reasons))
        raise
    if args.json:
        print(json.dumps(_choice_json(choice), indent=2))
        return 0
    print(f"study {choice.study_uid}")
    print(f"{'':2}{'score':>7}  {'images':>6}  {'orient':<9} {'description':<28} reasons")
    for s in choice.scores:
        mark = "*" if s.series_uid == choice.series_uid else " "
        score = f"{s.score:7.1f}" if s.eligible else "      -"
        print(f"{mark} {score}  {s.n_images:>6}  {s.orientation:<9} {s.description[:28]:<28} "
              + "; ".join(s.reasons))
    print(f"\nselected: {choice.description!r} {choice.series_uid}")
    print(f"margin {choice.margin:g}" + ("  UNCERTAIN (top-2 close)" if choice.uncertain else ""))
    for s in study.series.values():
        if s.series_uid == choice.series_uid:
            for problem in series_problems(s, cfg.select.gap_factor):
                print(f"warning: {problem}")
    return 0
