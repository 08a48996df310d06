"""WORC-style cohort → nnU-Net v2 raw dataset (``imagesTr``/``labelsTr``/``dataset.json``).

A WORC cohort is ``<COHORT>/<Patient>/image.nii.gz`` + ``segmentation.nii.gz`` (WORC's own
layout, also written by ``lipo-node synth cohort``). nnU-Net v2 expects
``Dataset<ID>_<Name>/imagesTr/<case>_0000.nii.gz``, ``labelsTr/<case>.nii.gz`` and a
``dataset.json`` naming channels and labels (nnU-Net ``documentation/dataset_format.md``).
Labels are binarised (any non-zero voxel is tumour) and written on the image's grid so the
integrity checks of nnU-Net's planner cannot trip on float masks or rounding in the origin.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.errors import SegmentationError

IMAGE_NAME = "image.nii.gz"
MASK_NAME = "segmentation.nii.gz"
CHANNEL_NAME = "T1"
TUMOUR_LABEL = "tumour"


class CohortError(SegmentationError):
    """The training cohort folder is missing or malformed."""

    code = "cohort_invalid"


@dataclass(frozen=True)
class RawDataset:
    """Where a converted dataset lives and what it holds."""

    folder: Path
    dataset_id: int
    name: str
    cases: tuple[str, ...]


def cohort_cases(cohort_dir: Path) -> list[Path]:
    """Patient folders holding both an image and a segmentation, sorted by name."""
    if not cohort_dir.is_dir():
        raise CohortError(f"cohort folder {cohort_dir} does not exist")
    cases = sorted(
        p for p in cohort_dir.iterdir() if (p / IMAGE_NAME).is_file() and (p / MASK_NAME).is_file()
    )
    if not cases:
        raise CohortError(
            f"cohort folder {cohort_dir} has no <Patient>/{IMAGE_NAME} + {MASK_NAME} pairs"
        )
    return cases


def _case_id(name: str) -> str:
    # nnU-Net splits on the trailing _XXXX channel suffix; keep identifiers plain
    return re.sub(r"[^A-Za-z0-9-]", "-", name)


def _convert_case(job: tuple[Path, Path]) -> str:
    case, folder = job
    cid = _case_id(case.name)
    image = sitk.ReadImage(str(case / IMAGE_NAME))
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise CohortError(f"{case / IMAGE_NAME}: expected a 3-D scalar image")
    mask = sitk.ReadImage(str(case / MASK_NAME))
    if mask.GetSize() != image.GetSize():
        raise CohortError(
            f"{case.name}: mask size {mask.GetSize()} differs from image size {image.GetSize()}"
        )
    label = sitk.GetImageFromArray((sitk.GetArrayViewFromImage(mask) > 0).astype(np.uint8))
    label.CopyInformation(image)
    sitk.WriteImage(image, str(folder / "imagesTr" / f"{cid}_0000.nii.gz"))
    sitk.WriteImage(label, str(folder / "labelsTr" / f"{cid}.nii.gz"))
    return cid


def convert_cohort(
    cohort_dir: Path, raw_root: Path, dataset_id: int, name: str, max_cases: int | None = None,
    workers: int = 1,
) -> RawDataset:
    """Write ``raw_root/Dataset<ID>_<name>`` from a WORC cohort; returns its description."""
    from nnunetv2.dataset_conversion.generate_dataset_json import generate_dataset_json

    cases = cohort_cases(cohort_dir)
    if max_cases is not None:
        cases = cases[:max_cases]
    folder = raw_root / f"Dataset{dataset_id:03d}_{name}"
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    jobs = [(case, folder) for case in cases]
    if workers > 1:  # reading and gzip-writing hundreds of cases dominates a GPU run's start
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            ids = pool.map(_convert_case, jobs, chunksize=4)
    else:
        ids = [_convert_case(job) for job in jobs]
    generate_dataset_json(
        str(folder),
        channel_names={0: CHANNEL_NAME},
        labels={"background": 0, TUMOUR_LABEL: 1},
        num_training_cases=len(ids),
        file_ending=".nii.gz",
        dataset_name=name,
        description="lipo-node: converted from a WORC-style cohort",
    )
    return RawDataset(folder=folder, dataset_id=dataset_id, name=name, cases=tuple(ids))
