"""Dice of a segmentation model on a WORC-style cohort (model card, tests, benchmarks)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.segment.dataset import IMAGE_NAME, MASK_NAME, cohort_cases
from node.segment.geometry import Volume, array_on_grid, geometry_of
from node.segment.nnunet import Segmenter, dice


@dataclass(frozen=True)
class CaseDice:
    case: str
    dice: float
    truth_ml: float
    predicted_ml: float
    seconds: float


@dataclass(frozen=True)
class CohortDice:
    cohort: str
    cases: tuple[CaseDice, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(c.dice for c in self.cases)

    @property
    def median(self) -> float:
        return statistics.median(c.dice for c in self.cases)


def volume_from_image(image: sitk.Image, series_uid: str = "") -> Volume:
    """A NIfTI/ITK image as a :class:`Volume` (slices in array order)."""
    geometry = geometry_of(image)
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    return Volume(array, geometry, tuple(range(geometry.shape[0])), False, series_uid)


def evaluate_cohort(segmenter: Segmenter, cohort_dir: Path, n: int | None = None) -> CohortDice:
    """Predict the first ``n`` cases (sorted by name) and compare with their segmentation."""
    results = []
    for case in cohort_cases(cohort_dir)[:n]:
        volume = volume_from_image(sitk.ReadImage(str(case / IMAGE_NAME)))
        truth = array_on_grid(sitk.ReadImage(str(case / MASK_NAME)), volume.geometry) > 0
        mask = segmenter.predict(volume)
        voxel_ml = float(np.prod(volume.geometry.spacing)) / 1000.0
        seconds = segmenter.last_timing.total_s if segmenter.last_timing else 0.0
        results.append(CaseDice(case.name, round(dice(mask.array, truth), 4),
                                round(float(truth.sum()) * voxel_ml, 2),
                                round(float(mask.array.sum()) * voxel_ml, 2), round(seconds, 2)))
    return CohortDice(cohort_dir.name, tuple(results))
