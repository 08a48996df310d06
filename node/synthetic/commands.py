"""``lipo-node synth study|cohort|preview|randomised|labelmaps`` (thin wrappers, STYLE.md #8)."""

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

    r = ssub.add_parser("randomised", help="domain-randomised training cohort (SynthSeg-style, issue 14)")
    r.add_argument("--profile", default="train", help="twin profile the label maps are drawn from")
    r.add_argument("--n", type=int, default=100)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--superficial-share", type=float, default=0.4)
    r.add_argument("--small-share", type=float, default=0.3)
    r.add_argument("--matrix", type=int, default=192, help="largest in-plane matrix")
    r.add_argument("--montage", type=Path, default=None, help="also write a PNG of the first 12 cases")
    r.set_defaults(func=_randomised)

    lm = ssub.add_parser("labelmaps", help="domain-randomised training cohort on random body label maps "
                                           "(compartments, fat planes, superficial tumours; issue 14)")
    lm.add_argument("n", type=int, help="number of cases")
    lm.add_argument("out", type=Path, help="cohort folder (WORC layout; complete cases are skipped)")
    lm.add_argument("--seed", type=int, default=0)
    lm.add_argument("--workers", type=int, default=1, help="processes (deterministic per seed and index)")
    lm.add_argument("--matrix", type=int, default=256, help="largest in-plane matrix")
    lm.add_argument("--montage", type=Path, default=None, help="also write a PNG of the first 12 cases")
    lm.set_defaults(func=_labelmaps)


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


def _randomised(args: argparse.Namespace) -> int:
    from node.synthetic.randomise import randomised_cohort

    out = randomised_cohort(args.profile, args.n, args.out, seed=args.seed,
                            superficial_share=args.superficial_share, small_share=args.small_share,
                            max_matrix=args.matrix)
    if args.montage:
        from node.synthetic.montage import cohort_montage

        cohort_montage(out, args.montage)
    print(out)
    return 0


def _labelmaps(args: argparse.Namespace) -> int:
    from node.synthetic.labelmaps import labelmap_cohort

    out = labelmap_cohort(args.n, args.out, seed=args.seed, workers=args.workers, max_matrix=args.matrix)
    if args.montage:
        from node.synthetic.montage import cohort_montage

        cohort_montage(out, args.montage)
    print(out)
    return 0
