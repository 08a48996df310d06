"""Sub-commands of the segment stage: ``train-seg``, ``eval-seg`` (registered by node.cli)."""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-seg", help="train a slim nnU-Net v2 on a WORC-style cohort and export it")
    p.add_argument("cohort_dir", type=Path, help="<Patient>/image.nii.gz + segmentation.nii.gz")
    p.add_argument("--out", type=Path, required=True, help="exported model folder")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--iters-per-epoch", type=int, default=50)
    p.add_argument("--val-iters", type=int, default=5)
    p.add_argument("--max-minutes", type=float, default=None, help="wall-clock stop (whole epochs)")
    p.add_argument("--max-cases", type=int, default=None)
    p.add_argument("--spacing", type=float, nargs=3, default=(4.0, 2.0, 2.0), metavar=("Z", "Y", "X"))
    p.add_argument("--patch", type=int, nargs=3, default=(24, 96, 96), metavar=("Z", "Y", "X"))
    p.add_argument("--base-features", type=int, default=16)
    p.add_argument("--max-features", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--da-workers", type=int, default=1, help="data augmentation processes (0 = inline)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--work-dir", type=Path, default=None, help="nnU-Net raw/preprocessed/results")
    p.add_argument("--initial-lr", type=float, default=1e-2, help="SGD start (poly decay to 0)")
    p.add_argument("--pretrained", type=Path, default=None,
                   help="checkpoint of the same slim plan to fine-tune from")
    p.set_defaults(func=_train)

    e = sub.add_parser("eval-seg", help="Dice of a segmentation model on a WORC-style cohort")
    e.add_argument("cohort_dir", type=Path, nargs="+")
    e.add_argument("--model", type=Path, default=None, help="model folder (default: config)")
    e.add_argument("--n", type=int, default=20, help="first N cases of each cohort")
    e.add_argument("--tta", action="store_true", help="mirroring test-time augmentation")
    e.add_argument("--json", type=Path, default=None)
    e.add_argument("--cache", type=Path, default=None,
                   help="keep the model's probabilities here (holdout evaluate / qc-tune reuse them)")
    e.add_argument("--threads", type=int, default=None, help="torch threads (default: config)")
    e.set_defaults(func=_evaluate)

    from node.segment import campaign

    campaign.register(sub)


def _train(args: argparse.Namespace) -> int:
    from node.segment.slim_plan import SlimPlan
    from node.segment.training import TrainBudget, train_seg

    slim = SlimPlan(spacing_mm=tuple(args.spacing), patch_size=tuple(args.patch),
                    base_features=args.base_features, max_features=args.max_features,
                    batch_size=args.batch_size)
    budget = TrainBudget(epochs=args.epochs, iterations_per_epoch=args.iters_per_epoch,
                         val_iterations=args.val_iters, max_minutes=args.max_minutes,
                         da_workers=args.da_workers, torch_threads=args.threads,
                         initial_lr=args.initial_lr)
    with tempfile.TemporaryDirectory(prefix="lipo-nnunet-") as tmp:
        work = args.work_dir or Path(tmp)
        result = train_seg(args.cohort_dir, args.out, work, slim=slim, budget=budget,
                           device=args.device, max_cases=args.max_cases,
                           pretrained=args.pretrained)
    print(json.dumps(asdict(result), default=str, indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.segment.evaluate import evaluate_cohort
    from node.segment.nnunet import Segmenter

    cfg = load_config(args.config).segment
    cfg = cfg.model_copy(update={"use_mirroring": args.tta, "agreement_pass": False}
                         | ({} if args.threads is None else {"torch_threads": args.threads}))
    segmenter = Segmenter(args.model or cfg.model_folder(), cfg)
    report = {"model_id": segmenter.model_id, "tta": args.tta, "cohorts": {}}
    for cohort in args.cohort_dir:
        res = evaluate_cohort(segmenter, cohort, args.n, cache=args.cache)
        report["cohorts"][res.cohort] = {"n": len(res.cases), "mean_dice": round(res.mean, 4),
                                         "median_dice": round(res.median, 4),
                                         "cases": [asdict(c) for c in res.cases]}
        print(f"{res.cohort}: n={len(res.cases)} mean Dice {res.mean:.3f} median {res.median:.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0
