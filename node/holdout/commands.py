"""``lipo-node holdout generate|evaluate``: the independent hold-out (issue 14), evaluation only."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    h = sub.add_parser("holdout", help="independent hold-out studies: generate, evaluate segmentation + QC")
    hsub = h.add_subparsers(dest="holdout_command", required=True)
    g = hsub.add_parser("generate", help="write evaluation-only hold-out cases (WORC layout)")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--n", type=int, default=24)
    g.add_argument("--seed", type=int, default=14)
    g.add_argument("--max-matrix", type=int, default=256)
    g.set_defaults(func=_generate)

    e = hsub.add_parser("evaluate", help="segmentation Dice per subgroup, QC pass/review split, rescue")
    e.add_argument("cohort_dir", type=Path,
                   help="hold-out (or twin) cases: image.nii.gz + segmentation.nii.gz")
    e.add_argument("--model", type=Path, default=None, help="nnU-Net model folder (default: config)")
    e.add_argument("--n", type=int, default=None, help="first N cases")
    e.add_argument("--threads", type=int, default=1, help="torch threads")
    e.add_argument("--json", type=Path, default=Path("docs/evaluation/holdout_segmentation.json"))
    e.add_argument("--md", type=Path, default=Path("docs/evaluation/holdout_segmentation.md"))
    e.add_argument("--cache", type=Path, default=None,
                   help="folder for the model's masks (re-running QC then skips the network)")
    e.add_argument("--no-agreement-pass", action="store_true",
                   help="skip the mirrored pass (and so QC's low_agreement), as reports before stop 28 did")
    e.add_argument("--no-cleanup", action="store_true",
                   help="keep fat-like components (segment.drop_fat_pieces off): the raw model")
    e.add_argument("--title", default="Segmentation + QC on the independent hold-out")
    e.set_defaults(func=_evaluate)


def _generate(args: argparse.Namespace) -> int:
    from node.holdout.generate import generate_holdout

    manifest = generate_holdout(args.out, n=args.n, seed=args.seed, max_matrix=args.max_matrix)
    print(manifest)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.holdout.evaluate import case_dirs_of, evaluate_cohort, summarise, write_report
    from node.segment.nnunet import Segmenter

    cfg = load_config(args.config)
    # the mirrored agreement pass follows the config, as in the pipeline's segment stage: without
    # it QC's low_agreement rule never runs and the review share is under-counted
    seg_cfg = cfg.segment.model_copy(update={"agreement_pass": cfg.segment.agreement_pass
                                             and not args.no_agreement_pass,
                                             "torch_threads": args.threads,
                                             "drop_fat_pieces": not args.no_cleanup})
    segmenter = Segmenter(args.model or seg_cfg.model_folder(), seg_cfg)
    cases = case_dirs_of(args.cohort_dir)[: args.n]

    def show(o):  # type: ignore[no-untyped-def]
        print(f"{o.case}: Dice {o.dice:.3f} QC {o.qc_status} {','.join(o.qc_reasons)} "
              f"rescue {o.rescue_dice}", flush=True)

    outcomes = evaluate_cohort(cases, segmenter, cfg.qc, progress=show, cache=args.cache)
    summary = summarise(outcomes)
    manifest = args.cohort_dir / "holdout.json"
    generator = json.loads(manifest.read_text())["generator"] if manifest.is_file() else "twin"
    context = {"cohort": str(args.cohort_dir), "generator": generator, "model_id": segmenter.model_id,
               "device": segmenter.device, "drop_fat_pieces": seg_cfg.drop_fat_pieces,
               "agreement_pass": seg_cfg.agreement_pass,
               "qc": cfg.qc.model_dump(mode="json"),
               "command": f"lipo-node holdout evaluate {args.cohort_dir}"}
    write_report(outcomes, summary, args.json, args.md, args.title, context)
    print(json.dumps({k: v for k, v in summary.items() if k != "subgroups"}, indent=1))
    return 0
