"""``lipo-node evaluate predictions|cv|site`` (registered by node.cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

from node.errors import LipoNodeError

__all__ = ["register"]


class EvaluateUsageError(LipoNodeError):
    code = "bad_evaluate_arguments"


def _pairs(values: list[str] | None, flag: str) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise EvaluateUsageError(f"{flag} {v!r}: expected NAME=CSV")
        out.setdefault(name, []).append(Path(path))
    return out


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cohort", action="append", required=True, metavar="NAME=CSV",
                   help="predictions CSV (Patient,label,prob[,model,split,decision]) of a "
                        "cohort; repeat per file and per cohort, in report order")
    p.add_argument("--readers", action="append", metavar="NAME=CSV",
                   help="reader scores of cohort NAME (same columns; model = reader name)")
    p.add_argument("--out", required=True, type=Path, help="report folder")
    p.add_argument("--threshold", type=float, default=0.5, help="P(ALT) cut-off for the calls")
    p.add_argument("--reader-threshold", type=float, default=None,
                   help="score cut-off for readers without a decision column")
    p.add_argument("--reference", default="radiomics", help="model the DeLong tests compare with")
    p.add_argument("--n-boot", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--title", default="lipo-node evaluation")
    p.add_argument("--intro", default="", help="paragraph under the title (data, models)")


def _run_predictions(args: argparse.Namespace) -> int:
    from node.evaluate.api import CohortFiles, evaluate_and_report, evaluate_files

    cohorts = _pairs(args.cohort, "--cohort")
    readers = _pairs(args.readers, "--readers")
    unknown = set(readers) - set(cohorts)
    if unknown:
        raise EvaluateUsageError(f"--readers for unknown cohort(s) {sorted(unknown)}")
    files = [CohortFiles(n, tuple(p), tuple(readers.get(n, []))) for n, p in cohorts.items()]
    try:
        results = evaluate_files(files, args.threshold, args.reader_threshold, args.n_boot,
                                 args.seed, args.reference)
    except ValueError as exc:
        raise EvaluateUsageError(str(exc)) from exc
    if args.evaluate_command == "cv":
        plain = [r.cohort for r in results if r.method != "cv-corrected-t"]
        if plain:
            raise EvaluateUsageError(f"evaluate cv: cohort(s) {plain} have no split column "
                                     "(use evaluate predictions for test-set predictions)")
    rep = evaluate_and_report(results, args.out, args.title, args.intro, seed=args.seed)
    print(f"report: {rep.markdown}\nhtml:   {rep.html}\nroc:    {rep.png} {rep.svg}")
    return 0


def _run_site(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.evaluate.site import SiteOptions, run_site

    cfg = load_config(args.config)
    bundles = {k: v[0] for k, v in _pairs(args.bundle, "--bundle").items()}
    opts = SiteOptions(use_truth_masks=args.truth_masks, limit=args.limit, n_boot=args.n_boot,
                       seed=args.seed, bundles=bundles, layout=args.layout)
    rep = run_site(Path(args.cohort), Path(args.out), cfg, opts)
    print(f"report: {rep.markdown}\nhtml:   {rep.html}\nroc:    {rep.png} {rep.svg}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("evaluate", help="statistics, ROC curves and a Table-2 style report")
    esub = ev.add_subparsers(dest="evaluate_command", metavar="WHAT", required=True)
    p = esub.add_parser("predictions", help="bootstrap CIs of test-set predictions per cohort")
    _common(p)
    p.set_defaults(func=_run_predictions)
    c = esub.add_parser("cv", help="cross-validation predictions (with a split column): "
                                   "mean and corrected resampled t CI")
    _common(c)
    c.set_defaults(func=_run_predictions)
    s = esub.add_parser("site", help="site acceptance: run the installed pipeline on a local "
                                     "cohort (WORC layout or DICOM folders + labels.csv)")
    s.add_argument("--cohort", required=True, help="cohort folder")
    s.add_argument("--out", required=True, help="report folder")
    s.add_argument("--bundle", action="append", metavar="NAME=DIR",
                   help="classifier bundle(s) to evaluate (default: the configured one)")
    s.add_argument("--truth-masks", action="store_true",
                   help="use each case's segmentation.nii.gz instead of running nnU-Net")
    s.add_argument("--limit", type=int, default=None, help="first N cases only")
    s.add_argument("--layout", choices=("auto", "worc", "dicom"), default="auto",
                   help="auto: <Patient>/image.nii.gz means WORC, else DICOM files below "
                        "<Patient>/ (T1 series chosen by the select rules)")
    s.add_argument("--n-boot", type=int, default=10_000)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_run_site)
