"""``lipo-node synth study|cohort|preview`` (thin wrappers, STYLE.md #8)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    synth = sub.add_parser("synth", help="synthetic MR studies and cohorts (the digital twin)")
    ssub = synth.add_subparsers(dest="synth_command", metavar="SYNTH", required=True)

    c = ssub.add_parser("cohort", help="a WORC-layout cohort of one profile (Table 1 targets)")
    c.add_argument("--profile", required=True, help="train | external_a | external_b | prospective")
    c.add_argument("--n", type=int, default=None, help="patients (default: the profile's size)")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--dicom", action="store_true", help="also write each patient's DICOM study")
    c.add_argument("--quiet", action="store_true")
    c.add_argument("--shard", default=None, metavar="I/K",
                   help="render only patients with index %% K == I (parallel workers; no labels.csv)")
    c.add_argument("--claim", action="store_true",
                   help="take patients first come, first served with other --claim workers (no labels.csv)")
    c.set_defaults(func=_cohort)

    s = ssub.add_parser("study", help="one multi-series DICOM study with ground truth")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--vendor", choices=["siemens", "ge", "philips"], default=None)
    s.add_argument("--enhanced", action="store_true", help="Enhanced MR Image Storage (multi-frame)")
    s.add_argument("--label", choices=["lipoma", "alt"], default=None)
    s.add_argument("--location", choices=["thigh", "arm", "trunk", "head_neck", "pelvis"], default=None)
    s.add_argument("--case", choices=["normal", "fov_cut", "no_tumour", "two_tumours", "superficial"],
                   default="normal", help="QC failure cases for the segmentation checks")
    s.add_argument("--matrix", type=int, default=256, help="largest in-plane matrix")
    s.add_argument("--extra-series", action="store_true",
                   help="add MP-RAGE, a Dixon quartet, a B0 field map (magnitude + phase), a subtraction")
    s.set_defaults(func=_study)

    p = ssub.add_parser("preview", help="PNG montage of a study's series with the truth contour")
    p.add_argument("study", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_preview)


def _cohort(args: argparse.Namespace) -> int:
    from node.synthetic.cohort import generate_cohort
    from node.synthetic.profiles import get_profile

    n = args.n if args.n is not None else get_profile(args.profile).n
    shard = tuple(int(v) for v in args.shard.split("/")) if args.shard else None
    labels = generate_cohort(args.profile, n, args.out, seed=args.seed, dicom=args.dicom,
                             progress=not args.quiet, shard=shard, claim=args.claim)
    print(labels)
    return 0


def _study(args: argparse.Namespace) -> int:
    from node.synthetic.study import StudySpec, generate_study

    spec = StudySpec(seed=args.seed, vendor=args.vendor, enhanced=args.enhanced, label=args.label,
                     location=args.location, case=args.case, max_matrix=args.matrix,
                     extra_series=args.extra_series)
    result = generate_study(args.out, spec)
    print(result.study_dir)
    return 0


def _preview(args: argparse.Namespace) -> int:
    from node.synthetic.preview import preview_study

    print(preview_study(args.study, args.out))
    return 0
