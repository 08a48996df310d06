"""``lipo-node report build|templates``: write SEG + SR for a series and a mask, check templates."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from node.config import load_config
from node.errors import LipoNodeError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="DICOM SEG + TID 1500 SR (highdicom) from dicom_templates/")
    rsub = p.add_subparsers(dest="report_cmd", required=True)
    b = rsub.add_parser("build", help="SEG + SR for one series folder and a NIfTI mask on its grid")
    b.add_argument("series_dir", type=Path, help="folder with the source series' DICOM files")
    b.add_argument("--mask", type=Path, required=True, help="mask (NIfTI/NRRD) in the series' space")
    b.add_argument("--out", type=Path, required=True, help="job folder; files go to OUT/report/")
    b.add_argument("--p-alt", type=float, required=True)
    b.add_argument("--label", choices=["lipoma", "alt"], required=True)
    b.add_argument("--qc", choices=["pass", "fail", "reviewed"], default="pass")
    b.add_argument("--method", choices=["automatic", "interactive", "manual"], default="automatic")
    b.add_argument("--ood", action="store_true")
    b.add_argument("--volume-ml", type=float, required=True)
    b.add_argument("--diameter-mm", type=float, default=None)
    b.add_argument("--model", action="append", default=[], metavar="ID=VERSION",
                   help="model id and version (repeatable), e.g. seg=demo-1")
    b.set_defaults(func=_build)
    t = rsub.add_parser("templates", help="validate a DICOM templates file (default: the configured one)")
    t.add_argument("file", type=Path, nargs="?", default=None)
    t.set_defaults(func=_templates)


def _build(args: argparse.Namespace) -> int:
    import pydicom
    import SimpleITK as sitk  # noqa: N813

    from node.report import ReportInputs, load_templates, write_report
    from node.segment.geometry import array_on_grid, read_series, seg_source

    cfg = load_config(args.config)
    paths = sorted(p for p in args.series_dir.iterdir() if p.is_file()) if args.series_dir.is_dir() else []
    if not paths:
        raise LipoNodeError(f"no files in {args.series_dir}")
    versions = dict(m.split("=", 1) for m in args.model if "=" in m) or {"manual": "cli"}
    info = ReportInputs(alt_probability=args.p_alt, label=args.label, qc_status=args.qc,
                        seg_method=args.method, ood=args.ood, volume_ml=args.volume_ml,
                        diameter_mm=args.diameter_mm, model_versions=versions)
    datasets = [pydicom.dcmread(p) for p in paths]
    volume = read_series(datasets)
    grid = array_on_grid(sitk.ReadImage(str(args.mask)), volume.geometry)
    source, mask = seg_source(datasets, grid, volume)
    out = write_report(args.out, source, mask, info, load_templates(cfg.report.templates_file),
                       mark_final=cfg.report.mark_final, key_image=cfg.report.key_image)
    print(json.dumps(out.model_dump(mode="json"), indent=2))
    return 0


def _templates(args: argparse.Namespace) -> int:
    from node.report import load_templates

    cfg = load_config(args.config)
    tpl = load_templates(args.file or cfg.report.templates_file)
    print(f"templates ok: version {tpl.template_version}, private scheme {tpl.private_scheme.designator}")
    return 0
