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


def _run_multiseq(args: argparse.Namespace) -> int:
    from node.evaluate.multiseq import MultiSeqOptions, run_multiseq

    opts = MultiSeqOptions(n_workflows=args.n_workflows, top_k=args.top_k, n_jobs=args.n_jobs,
                           n_boot=args.n_boot, seed=args.seed, limit=args.limit,
                           cache_dir=args.cache, params=args.params,
                           registration=args.registration)
    rep = run_multiseq(Path(args.cohorts), Path(args.out), opts)
    print(f"report: {rep.markdown}\nhtml:   {rep.html}\nroc:    {rep.png} {rep.svg}")
    return 0


def _run_workflow(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.evaluate.workflow import WorkflowOptions, run_workflow

    cfg = load_config(args.config)
    cohorts = Path(args.cohorts)
    if args.generate:
        from node.synthetic.cohort import generate_cohort

        for prof in args.profile:
            generate_cohort(prof, args.generate, cohorts / prof)
    bundles = {k: v[0] for k, v in _pairs(args.bundle, "--bundle").items()}
    calib = args.calibration_from or cohorts / "train" / "predictions_radiomics.csv"
    opts = WorkflowOptions(limit=args.limit, n_boot=args.n_boot, seed=args.seed, bundles=bundles,
                           manual_below=args.manual_below, cache_dir=args.cache,
                           calibration_from=calib if calib.is_file() else None,
                           resume=args.resume, report_only=args.report_only)
    rep = run_workflow(cohorts, list(args.profile), Path(args.out), cfg, opts)
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
    m = esub.add_parser("multi-sequence", help="T1-only vs multi-sequence radiomics on synthetic "
                        "profiles with sequences (registration Dice, CPU s, AUCs)")
    m.add_argument("--cohorts", required=True, help="folder of <profile>/ cohorts with sequences")
    m.add_argument("--out", required=True, help="report folder")
    m.add_argument("--n-workflows", type=int, default=100)
    m.add_argument("--top-k", type=int, default=20)
    m.add_argument("--n-jobs", type=int, default=1)
    m.add_argument("--limit", type=int, default=None, help="first N cases per profile")
    m.add_argument("--cache", type=Path, default=None, help="feature cache folder")
    m.add_argument("--params", type=Path, default=None, help="radiomics parameter YAML")
    m.add_argument("--registration", type=Path, default=None, help="registration YAML")
    m.add_argument("--n-boot", type=int, default=2000)
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=_run_multiseq)
    w = esub.add_parser("workflow", help="the complete approach: installed segmentation -> QC -> "
                        "interactive for QC failures -> radiomics -> classifier, next to the "
                        "truth-mask AUC, with quality table, calibration and subgroups")
    w.add_argument("--profile", action="append", required=True,
                   help="cohort folder name under --cohorts (repeat for several)")
    w.add_argument("--cohorts", default="/work/cohorts", help="folder holding <profile>/")
    w.add_argument("--out", required=True, help="report folder")
    w.add_argument("--generate", type=int, default=0, metavar="N",
                   help="first render N synthetic cases of each profile (kept if present)")
    w.add_argument("--bundle", action="append", metavar="KIND=DIR",
                   help="classifier bundle per kind (radiomics, volume, combined, clinical) "
                        "replacing the configured one (the configured bundle and its "
                        "<bundle>_<kind> siblings), or under a new NAME scored and reported "
                        "beside them (e.g. radiomics_reference=DIR)")
    w.add_argument("--limit", type=int, default=None, help="first N cases per profile")
    w.add_argument("--manual-below", type=float, default=0.70,
                   help="interactive Dice below which the reference mask stands in for a "
                        "manual correction")
    w.add_argument("--cache", type=Path, default=None, help="truth-mask feature cache")
    w.add_argument("--calibration-from", type=Path, default=None,
                   help="out-of-fold predictions CSV for the Platt map (default: "
                        "<cohorts>/train/predictions_radiomics.csv when present)")
    w.add_argument("--resume", action="store_true",
                   help="reuse <out>/<profile>/ cases and predictions of an earlier run")
    w.add_argument("--report-only", action="store_true",
                   help="only re-report what <out>/<profile>/ holds (no segmentation)")
    w.add_argument("--n-boot", type=int, default=2000)
    w.add_argument("--seed", type=int, default=0)
    w.set_defaults(func=_run_workflow)
