"""WORC-style training cohorts: ``<Patient>/image.nii.gz`` (the T1 series), ``segmentation.nii.gz``
and ``labels.csv``; optionally the full DICOM study of each patient under ``<Patient>/dicom/``.

Patients are rendered one by one and written atomically (a patient folder is complete or
absent), and ``labels.csv`` is written last, so a reader never sees a half cohort.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node import atomic
from node.synthetic.anatomy import build_phantom
from node.synthetic.draws import CaseDraw, draw_case
from node.synthetic.physics import TISSUES
from node.synthetic.planning import plan_t1, t1_protocol
from node.synthetic.profiles import get_profile
from node.synthetic.render import Sampled, draw_acquisition, form_image, sample

LABEL_COLUMNS = ("Patient", "label", "age", "sex", "location", "depth", "volume_ml",
                 "diameter_mm", "vendor", "field_strength", "seed")
GENERATOR_VERSION = "lipo-synth 1.0"


@dataclass(frozen=True)
class RenderedCase:
    case: CaseDraw
    sampled: Sampled
    image: np.ndarray
    mask: np.ndarray
    volume_ml: float
    fat_fraction: float   # rendered fat share of the tumour (design truth, not measured on the image)


def render_t1_case(case: CaseDraw, max_matrix: int = 256, max_slices: int = 40) -> RenderedCase:
    """Phantom, T1 grid, T1 image and truth mask of one case (no files)."""
    rng = np.random.default_rng([case.seed, 0xC0DE])
    ph = build_phantom(case)
    plan = plan_t1(case, ph, rng, max_matrix=max_matrix, max_slices=max_slices)
    s = sample(ph, plan.grid)
    proto = t1_protocol(rng)
    image = form_image(s, proto, case.field_t, draw_acquisition(rng), ph.tumours[0].fat_t1_scale)
    mask = s.mask()
    vox_ml = float(np.prod(plan.grid.spacing_xyz)) / 1000
    tfrac = s.tumour_fraction
    fat = sum(s.fraction(t) for t, p in TISSUES.items() if p.fat and t.name == "tumour_fat")
    ff = float(fat.sum() / max(tfrac.sum(), 1e-6))
    return RenderedCase(case, s, image, mask, float(mask.sum()) * vox_ml, ff)


def _write_patient(folder: Path, rc: RenderedCase) -> None:
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    grid = rc.sampled.grid
    sitk.WriteImage(grid.to_sitk(rc.image.astype(np.int16)), str(tmp / "image.nii.gz"), useCompression=True)
    sitk.WriteImage(grid.to_sitk(rc.mask), str(tmp / "segmentation.nii.gz"), useCompression=True)
    truth = {**rc.case.as_dict(), "volume_ml": rc.volume_ml, "rendered_fat_fraction": rc.fat_fraction,
             "shape": list(grid.shape), "spacing_xyz": list(grid.spacing_xyz),
             "generator": GENERATOR_VERSION}
    (tmp / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)  # a whole folder swap; node.atomic writes single files


def label_row(patient: str, case: CaseDraw, volume_ml: float) -> dict[str, object]:
    return {"Patient": patient, "label": case.label.value, "age": case.age, "sex": case.sex.value,
            "location": case.location.value, "depth": case.depth.value, "volume_ml": round(volume_ml, 2),
            "diameter_mm": round(case.diameter_mm, 1), "vendor": case.vendor.value,
            "field_strength": case.field_t, "seed": case.seed}


def case_seed(profile: str, seed: int, index: int) -> int:
    """Stable per-patient seed: profile name, cohort seed and index, not the cohort size."""
    h = sum((i + 1) * ord(c) for i, c in enumerate(profile))
    return int(seed) * 1_000_003 + h * 10_007 + index


def generate_cohort(profile: str, n: int, out_dir: Path, seed: int = 0, dicom: bool = False,
                    progress: bool = False, shard: tuple[int, int] | None = None,
                    max_matrix: int = 256, claim: bool = False) -> Path:
    """Write ``n`` patients of ``profile`` in WORC layout under ``out_dir``; returns labels.csv.

    Existing complete patient folders with the same seed are kept (restartable). ``shard``
    (i, k) renders only patients with index % k == i and does not write labels.csv, so k
    processes can share the work; a final run without ``shard`` then only writes the table.
    ``claim`` makes concurrent workers take patients first come, first served: a worker renders
    a patient only after creating ``.<Patient>.claim`` (``mkdir`` is atomic), and then writes no
    labels.csv either.
    """
    if shard is not None and not 0 <= shard[0] < shard[1]:
        raise ValueError(f"shard {shard} must be (i, k) with 0 <= i < k")
    prof = get_profile(profile)
    if n < 1:
        raise ValueError("n must be >= 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        patient = f"{prof.name}-{i:04d}"
        case = draw_case(prof, case_seed(prof.name, seed, i))
        if shard is not None and i % shard[1] != shard[0]:
            continue
        folder = out_dir / patient
        truth = folder / "truth.json"
        if truth.is_file() and json.loads(truth.read_text()).get("seed") == case.seed \
                and (folder / "image.nii.gz").is_file():
            rows.append(label_row(patient, case, json.loads(truth.read_text())["volume_ml"]))
            continue
        lock = out_dir / f".{patient}.claim"
        if not claim:  # a claiming worker may still be writing this patient: wait (bounded)
            for _ in range(300):
                if not lock.exists():
                    break
                time.sleep(2.0)
            if truth.is_file() and json.loads(truth.read_text()).get("seed") == case.seed:
                rows.append(label_row(patient, case, json.loads(truth.read_text())["volume_ml"]))
                continue
        if claim:
            try:
                lock.mkdir()
            except FileExistsError:
                continue
        rc = render_t1_case(case, max_matrix=max_matrix)
        _write_patient(folder, rc)
        if claim:
            lock.rmdir()
        if dicom:
            from node.synthetic.study import StudySpec, generate_study
            generate_study(folder / "dicom", StudySpec.from_case(case, prof.name, max_matrix))
        rows.append(label_row(patient, case, rc.volume_ml))
        if progress:
            print(f"{patient} {case.label.value} {rc.volume_ml:.0f} ml", flush=True)
    labels = out_dir / "labels.csv"
    if shard is not None or claim:
        return labels

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=LABEL_COLUMNS)
            w.writeheader()
            w.writerows(rows)

    return atomic.write_with(labels, write)


def write_case(profile: str, index: int, out_dir: Path, seed: int = 0, max_matrix: int = 256) -> Path:
    """Patient ``index`` of ``generate_cohort(profile, …, seed)`` alone, for parallel workers that
    need no labels.csv (training sets); a complete folder with the same seed is kept."""
    prof = get_profile(profile)
    case = draw_case(prof, case_seed(prof.name, seed, index))
    folder = Path(out_dir) / f"{prof.name}-{index:04d}"
    truth = folder / "truth.json"
    if truth.is_file() and json.loads(truth.read_text()).get("seed") == case.seed:
        return folder
    _write_patient(folder, render_t1_case(case, max_matrix=max_matrix))
    return folder
