"""``lipo-node qc-tune``: set the image-based QC thresholds on twin cases (never the hold-out)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("qc-tune", help="tune the image-based QC thresholds on twin cases (WORC layout)")
    p.add_argument("cohort_dir", type=Path, help="twin cases: image.nii.gz + segmentation.nii.gz")
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--samples", type=Path, default=None,
                   help="reuse measured samples (JSON) instead of measuring again")
    p.add_argument("--quantile", type=float, default=0.97)
    p.add_argument("--out", type=Path, default=Path("docs/evaluation/qc_tuning.json"))
    p.add_argument("--md", type=Path, default=Path("docs/evaluation/qc_tuning.md"))
    p.add_argument("--cache", type=Path, default=None,
                   help="the model's probabilities from `eval-seg --cache` (no network run)")
    p.set_defaults(func=_tune)

    q = sub.add_parser("qc-quality", help="the learned QC quality regressor: collect (mask, Dice) "
                                          "pairs on training-generator cases, train it")
    qsub = q.add_subparsers(dest="qc_quality_command", required=True)
    c = qsub.add_parser("collect", help="measure model / raw / perturbed masks (cached probabilities)")
    c.add_argument("cohort_dir", type=Path, help="training-generator cases (never a hold-out)")
    c.add_argument("--cache", type=Path, required=True, help="probabilities from predict_cached")
    c.add_argument("--out", type=Path, required=True, help="samples JSON")
    c.add_argument("--copies", type=int, default=4, help="maskaug perturbations per case")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--near-truth", action="store_true",
                   help="also 'almost right' truth perturbations (rim, end slice) and leaks, each "
                        "with a synthetic confident softmax")
    c.add_argument("--no-model-masks", action="store_true",
                   help="only the --near-truth masks (cases already collected)")
    c.set_defaults(func=_quality_collect)
    t = qsub.add_parser("train", help="fit the regressor, threshold from out-of-fold predictions")
    t.add_argument("samples", type=Path, nargs="+", help="samples JSON files from `collect`")
    t.add_argument("--out", type=Path, default=None, help="model folder (default: node/models/demo/quality)")
    t.add_argument("--alpha", type=float, default=0.2, help="predicted quantile of the Dice")
    t.add_argument("--balance", action="store_true", help="weight the Dice bins equally")
    t.add_argument("--select", action="store_true",
                   help="choose quantile, balancing and rule set out-of-fold (overrides --alpha/--balance)")
    t.add_argument("--report", type=Path, default=None,
                   help="JSON: threshold, out-of-fold rule-set comparison")
    t.set_defaults(func=_quality_train)
    sc = qsub.add_parser("score", help="a saved regressor as it is (its threshold, the config's "
                                       "rules) on collected samples: the incumbent's side of a retrain")
    sc.add_argument("samples", type=Path, nargs="+", help="samples JSON files from `collect`")
    sc.add_argument("--model", type=Path, default=None,
                    help="regressor folder (default: node/models/demo/quality)")
    sc.add_argument("--report", type=Path, default=None, help="JSON with the gate numbers")
    sc.set_defaults(func=_quality_score)


def _tune(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.qc.tuning import choose_thresholds, collect_samples, load_samples, save_samples, tuning_report

    cfg = load_config(args.config)
    if args.samples is not None and args.samples.is_file():
        samples = load_samples(args.samples)
    else:
        from node.qc.tuning import case_dirs
        from node.segment.nnunet import Segmenter

        seg_cfg = cfg.segment.model_copy(update={"agreement_pass": False})
        segmenter = Segmenter(seg_cfg.model_folder(), seg_cfg)
        samples = collect_samples(case_dirs(args.cohort_dir)[: args.n], segmenter, cfg.qc,
                                  progress=lambda s: print(s.case, s.kind, s.dice, flush=True),
                                  cache=args.cache)
        if args.samples is not None:
            save_samples(samples, args.samples)
    from node.qc.tuning import RULES

    quantile = choose_thresholds(samples, quantile=args.quantile)
    shipped = {f: getattr(cfg.qc, f) for f, _ in RULES.values()}
    report = {"cohort": str(args.cohort_dir), "n_samples": len(samples),
              "configured": tuning_report(samples, shipped),
              f"quantile_{args.quantile}_of_good_masks": tuning_report(samples, quantile),
              "samples": [s.__dict__ for s in samples]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=1))
    if args.md:
        _markdown(report, samples, args.md)
    return 0


def _markdown(report: dict, samples: list, path: Path) -> None:
    """Per-rule table (configured thresholds) and every sample's measurements."""
    from node.qc.tuning import RULES, fails

    conf = report["configured"]
    lines = ["# Image-based QC: thresholds on the twin (in-sample)", "",
             f"Cohort `{report['cohort']}`; {report['n_samples']} masks: truth, the bundled model's mask, "
             "and perturbations of the truth (leak into connected fat, half cut away, eroded). "
             "Good = truth or model mask with Dice ≥ 0.8; bad = any mask with Dice < 0.7. "
             "These numbers are in-sample: the thresholds were chosen looking at them. "
             "The hold-out numbers are in holdout_segmentation.md.", "",
             f"Configured thresholds: good masks flagged {conf['good_flagged']}/{conf['n_good']}, "
             f"bad masks caught {conf['bad_caught']}/{conf['n_bad']}.", "",
             "| measurement | threshold | good flagged | bad caught |", "|---|---|---|---|"]
    for name, (field, sign) in RULES.items():
        lines.append(f"| {name} | {'>' if sign > 0 else '<'} {conf['thresholds'][field]} | "
                     f"{conf['per_rule_good_flagged'][name]} | {conf['per_rule_bad_caught'][name]} |")
    lines += ["", "| case | mask | Dice | " + " | ".join(RULES) + " | flagged by |",
              "|---|---|---|" + "---|" * len(RULES) + "---|"]
    for s in samples:
        vals = " | ".join(str(s.measurements.get(n)) for n in RULES)
        lines.append(f"| {s.case} | {s.kind} | {s.dice} | {vals} | "
                     f"{', '.join(fails(s.measurements, conf['thresholds']))} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _quality_collect(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.qc.quality_train import collect, save_samples
    from node.qc.tuning import case_dirs
    from node.segment.nnunet import Segmenter

    cfg = load_config(args.config)
    seg_cfg = cfg.segment.model_copy(update={"agreement_pass": False, "torch_threads": 1})
    segmenter = Segmenter(seg_cfg.model_folder(), seg_cfg)
    qc_cfg = cfg.qc.model_copy(update={"quality_check": False})
    samples = collect(case_dirs(args.cohort_dir), segmenter, qc_cfg, args.cache, copies=args.copies,
                      seed=args.seed, progress=lambda s: print(s.case, s.kind, s.dice, flush=True),
                      save_to=args.out, model_masks=not args.no_model_masks,
                      near_truth=args.near_truth)
    save_samples(samples, args.out)
    return 0


def _quality_train(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.qc.quality import DEMO_QUALITY_DIR, save_quality_model
    from node.qc.quality_train import (
        compare_rule_sets,
        gate_report,
        load_samples,
        rule_mask,
        select_configuration,
        train,
    )

    samples = [s for path in args.samples for s in load_samples(path)]
    cfg = load_config(args.config)
    selection = None
    alpha, balance, fat_continuity = args.alpha, args.balance, cfg.qc.fat_continuity_check
    if args.select:
        selection = select_configuration(samples, cfg.qc)
        chosen = selection["chosen"]
        alpha, balance, fat_continuity = chosen["alpha"], chosen["balanced"], chosen["fat_continuity"]
    ok = rule_mask(samples, cfg.qc, fat_continuity)
    model, oof = train(samples, alpha=alpha, balance=balance, rule_ok=ok)
    save_quality_model(model, args.out or DEMO_QUALITY_DIR)
    dice = [s.dice for s in samples]
    passed = ok & (oof >= model.threshold)
    insample = ok & (model.predict([s.x() for s in samples]) >= model.threshold)
    report = {"threshold": model.threshold, "fat_continuity_check": fat_continuity, **model.meta,
              "out_of_fold_mae": round(float(sum(abs(p - d) for p, d in zip(oof, dice, strict=True))
                                             / len(dice)), 4),
              "out_of_fold_above_truth_share": round(float(sum(p > d for p, d in zip(oof, dice, strict=True))
                                                           / len(dice)), 4),
              "gate_out_of_fold": gate_report(samples, passed),
              "gate_in_sample": gate_report(samples, insample),
              "rule_sets_out_of_fold": compare_rule_sets(samples, oof, model.threshold, cfg.qc),
              "selection": selection,
              "oof": [{"case": s.case, "kind": s.kind, "dice": s.dice, "predicted": round(float(p), 4)}
                      for s, p in zip(samples, oof, strict=True)]}
    if args.report:
        from node import atomic

        atomic.write_text(args.report, json.dumps(report, indent=1, default=str) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "oof"}, indent=1, default=str))
    return 0


def _quality_score(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.qc.quality import DEMO_QUALITY_DIR, load_quality_model
    from node.qc.quality_train import load_samples, score_samples

    folder = args.model or DEMO_QUALITY_DIR
    model = load_quality_model(folder)
    if model is None:
        print(f"no quality model in {folder}")
        return 2
    samples = [s for path in args.samples for s in load_samples(path)]
    report = {"model": str(folder),
              "samples": [str(p) for p in args.samples],
              **score_samples(samples, model, load_config(args.config).qc)}
    if args.report:
        from node import atomic

        atomic.write_text(args.report, json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0
