"""Helpers for report/send tests: synthetic sources, blob masks, the real validators.

Sources: a synthetic study (node.synthetic) as classic and as Enhanced MR (axial T1 +
coronal STIR each) and the real Siemens sagittal T1 fixture. Validators are the real tools:
dicom3tools ``dciodvfy``, dcmtk ``dsrdump``, dcmqi ``segimage2itkimage`` / ``tid1500reader``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813

from node.dcmtk import dcmtk
from node.report import ReportInputs, load_source
from node.report.seg import expected_shape

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Validation:
    errors: list[str]
    warnings: list[str]


def dciodvfy(path: Path) -> Validation:
    """dicom3tools' IOD checker: every line starting with Error/Warning, as printed."""
    proc = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (proc.stdout + proc.stderr).splitlines()
    return Validation([ln for ln in lines if ln.startswith("Error")],
                      [ln for ln in lines if ln.startswith("Warning")])


def dsrdump(path: Path) -> str:
    proc = subprocess.run([dcmtk("dsrdump"), str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def dcmqi_mask(seg_path: Path, out_dir: Path) -> np.ndarray:
    """The mask dcmqi rebuilds from our SEG (z, y, x) via segimage2itkimage."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [str(VENV_BIN / "segimage2itkimage"), "--inputDICOM", str(seg_path),
         "--outputDirectory", str(out_dir), "--outputType", "nrrd"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sitk.GetArrayFromImage(sitk.ReadImage(str(out_dir / "1.nrrd"))).astype(bool)


def tid1500(sr_path: Path, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = out_dir / "sr.json"
    proc = subprocess.run(
        [str(VENV_BIN / "tid1500reader"), "--inputDICOM", str(sr_path), "--outputMetadata", str(meta)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(meta.read_text())


def blob_mask(shape: tuple[int, int, int], shift: float = 0.0) -> np.ndarray:
    """An off-centre ellipsoid, asymmetric along every axis (a flip would show)."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    cz, cy, cx = shape[0] * (0.4 + shift), shape[1] * 0.45, shape[2] * 0.55
    return ((z - cz) ** 2 / (shape[0] / 4) ** 2 + (y - cy) ** 2 / (shape[1] / 5) ** 2
            + (x - cx) ** 2 / (shape[2] / 7) ** 2) < 1


def source_and_mask(folder: Path, shift: float = 0.0) -> tuple[list[pydicom.Dataset], np.ndarray]:
    src = load_source(folder)
    return src, blob_mask(expected_shape(src), shift)


def inputs(**kw: object) -> ReportInputs:
    base: dict[str, object] = dict(
        alt_probability=0.83, label="alt", qc_status="pass", seg_method="automatic", ood=False,
        volume_ml=123.4, diameter_mm=87.6, model_versions={"seg": "demo-seg-1", "classifier": "demo-clf-1"},
    )
    base.update(kw)
    return ReportInputs.model_validate(base)


def make_result(job_dir: Path, source_folder: Path, **kw: object) -> tuple[Path, Path, ReportInputs]:
    """Write one SEG + SR for ``source_folder`` (blob mask) and return their paths."""
    from node.report import write_report

    src, mask = source_and_mask(source_folder)
    info = inputs(**kw)
    out = write_report(job_dir, src, mask, info)
    return out.seg_path, out.sr_path, info
