"""Dice of a segmentation model on a WORC-style cohort (model card, tests, benchmarks)."""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.segment.dataset import IMAGE_NAME, MASK_NAME, cohort_cases
from node.segment.geometry import Mask, Volume, array_on_grid, geometry_of
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


def evaluate_cohort(segmenter: Segmenter, cohort_dir: Path, n: int | None = None,
                    cache: Path | None = None) -> CohortDice:
    """Predict the first ``n`` cases (sorted by name) and compare with their segmentation."""
    results = []
    for case in cohort_cases(cohort_dir)[:n]:
        image = sitk.ReadImage(str(case / IMAGE_NAME))
        volume = volume_from_image(image)
        truth = array_on_grid(sitk.ReadImage(str(case / MASK_NAME)), volume.geometry) > 0
        mask = predict_cached(segmenter, image, case.name, cache)
        voxel_ml = float(np.prod(volume.geometry.spacing)) / 1000.0
        seconds = segmenter.last_timing.total_s if segmenter.last_timing else 0.0
        results.append(CaseDice(case.name, round(dice(mask.array, truth), 4),
                                round(float(truth.sum()) * voxel_ml, 2),
                                round(float(mask.array.sum()) * voxel_ml, 2), round(seconds, 2)))
    return CohortDice(cohort_dir.name, tuple(results))


def predict_cached(segmenter: Segmenter, image: sitk.Image, case: str, cache: Path | None) -> Mask:
    """The model's mask, reused from ``cache`` when this model already segmented the case.

    Re-running QC with other thresholds needs no network, and the network can run where a GPU
    is (``eval-seg --cache``) while QC and its tuning run here. The file name carries the model
    id (folder name + weights digest), so another model never reads these probabilities, and a
    digest of the image, so a case of the same name from another cohort (two randomised cohorts
    both start at ``dr-train-0000``) never reads them either. With ``agreement_pass`` (the
    pipeline's default) the mirrored pass is cached beside it and the mask carries the agreement
    the segment stage gives QC (here from the 8-bit probabilities); a cache written without it
    gains the missing pass.
    """
    if cache is None:
        return segmenter.predict(volume_from_image(image))
    from node import atomic
    from node.segment.nnunet import network_input, pass_agreement

    stem = f"{case}.{image_digest(image)}.{segmenter.model_id.replace('@', '_')}"
    names = [f"{stem}.prob.nii.gz"] + ([f"{stem}.mirror.prob.nii.gz"] if segmenter.cfg.agreement_pass else [])
    probs: list[np.ndarray] = []
    net_in: tuple[np.ndarray, list[float]] | None = None
    for i, name in enumerate(names):
        path = cache / name
        if path.is_file():  # foreground probability x 255, as the segment stage stores it
            probs.append(sitk.GetArrayFromImage(sitk.ReadImage(str(path))).astype(np.float32) / 255)
            continue
        net_in = net_in or network_input(volume_from_image(image))
        prob = segmenter.foreground(*net_in) if i == 0 else segmenter.mirrored(*net_in)
        prob8 = np.round(np.clip(prob, 0, 1) * 255).astype(np.uint8)
        out = sitk.GetImageFromArray(prob8)
        out.CopyInformation(image)
        atomic.write_image(path, out)
        # the mask is re-derived from the stored probabilities, so a rerun sees the same mask
        probs.append(prob8.astype(np.float32) / 255)
    mask = _from_probabilities(probs[0], image, segmenter)
    if len(probs) == 2:
        mask = dataclasses.replace(mask, agreement=pass_agreement(probs[0], probs[1]))
    return mask


def image_digest(image: sitk.Image) -> str:
    """Twelve hex digits of the voxels and their grid: what the probabilities were computed on."""
    import hashlib

    h = hashlib.sha1(sitk.GetArrayViewFromImage(image).tobytes())
    h.update(repr((image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection(),
                   image.GetPixelIDValue())).encode())
    return h.hexdigest()[:12]


def _from_probabilities(prob: np.ndarray, image: sitk.Image, segmenter: Segmenter) -> Mask:
    """The mask ``Segmenter.predict`` makes from these probabilities (threshold, clean-ups)."""
    from node.segment.cleanup import postprocess

    geometry = geometry_of(image)
    sx, sy, sz = geometry.spacing
    array = postprocess(prob, sitk.GetArrayFromImage(image).astype(np.float32), (sz, sy, sx),
                        segmenter.cfg)
    return Mask(array=array, geometry=geometry, model_id=segmenter.model_id, probabilities=prob)
