"""Segmentation + QC on hold-out cases: Dice per subgroup, QC pass/review split, rescue.

For every case: the automatic model's mask (nnU-Net, as the pipeline runs it), QC with every
check the node runs (the image-based ones included), Dice against the truth, and for cases QC
sends to review the interactive model's Dice from six extreme points simulated on the truth
(what a reviewer would click). The summary answers issue 14's "Done when" questions directly:
mean Dice overall and per subgroup, share routed to review, and how good the delivered
(QC-passed) masks are. Cohorts of the twin (``truth.json``) are read too, so the same code
measures the in-sample numbers used to tune QC.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from node.qc.checks import QcStatus, run_qc
from node.qc.config import QcConfig
from node.qc.tuning import load_case
from node.segment.evaluate import predict_cached
from node.segment.nnunet import Segmenter, dice

SMALL_ML = 20.0


@dataclass
class CaseOutcome:
    case: str
    subgroups: dict[str, str]
    dice: float
    truth_ml: float
    predicted_ml: float
    qc_status: str
    qc_reasons: list[str]
    measurements: dict[str, float | None]
    rescue_dice: float | None = None
    seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def subgroups_of(case_dir: Path, truth_ml: float) -> dict[str, str]:
    """depth / size / vendor / plane of a hold-out (meta.json) or twin (truth.json) case."""
    meta = case_dir / "meta.json"
    if meta.is_file():
        m = json.loads(meta.read_text(encoding="utf-8"))
        depth = m["depth"]
        vendor, plane, region = m["vendor"], m["plane"], m["region"]
    else:
        t = json.loads((case_dir / "truth.json").read_text(encoding="utf-8"))
        depth, vendor, region = t.get("depth", "?"), t.get("vendor", "?"), t.get("location", "?")
        plane = "axial"
    return {"depth": "superficial" if depth == "superficial" else "deep",
            "depth_detail": depth, "size": "small" if truth_ml <= SMALL_ML else "large",
            "vendor": vendor, "plane": plane, "region": region}


def evaluate_case(case_dir: Path, segmenter: Segmenter, qc_cfg: QcConfig,
                  rescue: bool = True, cache: Path | None = None) -> CaseOutcome:
    from node.qc.interactive_check import reseg_from_extremes
    from node.segment.interactive import InteractivePointsError, segment_from_points, simulate_points

    started = time.perf_counter()
    array, truth, image = load_case(case_dir)
    if not truth.any():  # no tumour to measure against: Dice would be 1.0 or 0.0 by accident
        return CaseOutcome(case_dir.name, subgroups_of(case_dir, 0.0), 0.0, 0.0, 0.0, "not_scored",
                           ["empty_truth"], {}, extra={"empty_truth": 1.0})
    mask = predict_cached(segmenter, image, case_dir.name, cache)
    sx, sy, sz = mask.geometry.spacing
    spacing_zyx = (sz, sy, sx)
    inter = reseg_from_extremes(array, mask.array, spacing_zyx) if qc_cfg.interactive_check else None
    qc = run_qc(mask, None, False, qc_cfg, image=array, interactive=inter)
    voxel_ml = float(np.prod(mask.geometry.spacing)) / 1000.0
    truth_ml = float(truth.sum()) * voxel_ml
    out = CaseOutcome(case_dir.name, subgroups_of(case_dir, truth_ml), round(dice(mask.array, truth), 4),
                      round(truth_ml, 2), round(float(mask.array.sum()) * voxel_ml, 2),
                      qc.status.value, [r.code.value for r in qc.reasons], qc.measurements)
    if rescue and qc.status is QcStatus.FAIL:
        points = simulate_points(truth, np.random.default_rng(7), inward=2)
        try:
            res = segment_from_points(array, spacing_zyx, points)
            out.rescue_dice = round(dice(res.mask, truth), 4)
        except InteractivePointsError as exc:  # e.g. a one-slice tumour: points span < 2 axes
            out.rescue_dice = 0.0  # counted as a failed rescue (a reviewer would draw by hand)
            out.extra["rescue_error"] = 1.0
            out.qc_reasons.append(f"rescue:{exc.code}")
    out.seconds = round(time.perf_counter() - started, 2)
    return out


def _mean(xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return round(statistics.fmean(xs), 4) if xs else None


def summarise(outcomes: list[CaseOutcome]) -> dict[str, object]:
    """Issue 14's numbers: Dice overall / per subgroup, QC split, delivered-mask quality, rescue.
    Cases without a tumour in their truth are listed, not scored."""
    excluded = [o.case for o in outcomes if o.extra.get("empty_truth")]
    outcomes = [o for o in outcomes if not o.extra.get("empty_truth")]
    passed = [o for o in outcomes if o.qc_status == QcStatus.PASS.value]
    review = [o for o in outcomes if o.qc_status != QcStatus.PASS.value]
    groups: dict[str, dict[str, object]] = {}
    for key in ("depth", "depth_detail", "size", "vendor", "plane", "region"):
        for value in sorted({o.subgroups[key] for o in outcomes}):
            sel = [o for o in outcomes if o.subgroups[key] == value]
            groups[f"{key}={value}"] = {
                "n": len(sel), "mean_dice": _mean(o.dice for o in sel),
                "review": sum(o.qc_status != "pass" for o in sel),
                "mean_dice_qc_passed": _mean(o.dice for o in sel if o.qc_status == "pass"),
            }
    rescued = [o.rescue_dice for o in review if o.rescue_dice is not None]
    return {
        "n": len(outcomes),
        "mean_dice": _mean(o.dice for o in outcomes),
        "median_dice": round(statistics.median(o.dice for o in outcomes), 4) if outcomes else None,
        "qc_passed": len(passed),
        "qc_review": len(review),
        "review_share": round(len(review) / len(outcomes), 4) if outcomes else None,
        "mean_dice_qc_passed": _mean(o.dice for o in passed),
        "min_dice_qc_passed": min((o.dice for o in passed), default=None),
        "qc_passed_dice_ge_0_7_share": (round(sum(o.dice >= 0.7 for o in passed) / len(passed), 4)
                                        if passed else None),
        "qc_passed_below_0_5": sum(o.dice < 0.5 for o in passed),
        "review_rescue_mean_dice": _mean(rescued),
        "review_rescue_ge_0_8_share": (round(sum(d >= 0.8 for d in rescued) / len(rescued), 4)
                                       if rescued else None),
        "subgroups": groups,
        "excluded_empty_truth": excluded,
    }


def evaluate_cohort(case_dirs: list[Path], segmenter: Segmenter, qc_cfg: QcConfig,
                    progress: Callable[[CaseOutcome], None] | None = None,
                    cache: Path | None = None) -> list[CaseOutcome]:
    outcomes = []
    for case in case_dirs:
        o = evaluate_case(case, segmenter, qc_cfg, cache=cache)
        outcomes.append(o)
        if progress:
            progress(o)
    return outcomes


def case_dirs_of(root: Path) -> list[Path]:
    """Complete cases (meta.json, written last, marks one)."""
    from node.qc.tuning import case_dirs

    return case_dirs(root)


def write_report(outcomes: list[CaseOutcome], summary: dict[str, object], json_path: Path,
                 md_path: Path | None, title: str, context: dict[str, object]) -> None:
    from node import atomic

    atomic.write_text(json_path, json.dumps({**context, "summary": summary,
                                             "cases": [asdict(o) for o in outcomes]}, indent=1) + "\n")
    if md_path is None:
        return
    s = summary
    lines = [f"# {title}", "", *(f"- {k}: `{v}`" for k, v in context.items()), "",
             "| measure | value |", "|---|---|"]
    for k in ("n", "mean_dice", "median_dice", "qc_passed", "qc_review", "review_share",
              "mean_dice_qc_passed", "min_dice_qc_passed", "qc_passed_dice_ge_0_7_share",
              "qc_passed_below_0_5", "review_rescue_mean_dice", "review_rescue_ge_0_8_share"):
        lines.append(f"| {k} | {s[k]} |")
    lines += ["", "| subgroup | n | mean Dice | to review | mean Dice of QC-passed |",
              "|---|---|---|---|---|"]
    for name, g in s["subgroups"].items():  # type: ignore[union-attr]
        lines.append(f"| {name} | {g['n']} | {g['mean_dice']} | {g['review']} | {g['mean_dice_qc_passed']} |")
    lines += ["", "| case | depth | size | vendor | plane | Dice | truth ml | predicted ml | QC | reasons "
              "| rescue Dice |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        g = o.subgroups
        lines.append(f"| {o.case} | {g['depth_detail']} | {g['size']} | {g['vendor']} | {g['plane']} | "
                     f"{o.dice} | {o.truth_ml} | {o.predicted_ml} | {o.qc_status} | "
                     f"{', '.join(o.qc_reasons)} | {o.rescue_dice} |")
    atomic.write_text(md_path, "\n".join(lines) + "\n")
