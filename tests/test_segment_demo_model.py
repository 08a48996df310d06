"""The bundled demo model (node/models/demo/seg): Dice on freshly generated cases, and QC
flags cases built to fail. No training here: CI only runs inference."""

from __future__ import annotations

import numpy as np
import pytest
from segment_phantoms import render_phantom

from node.qc.checks import QcCode, QcStatus, run_qc
from node.qc.config import QcConfig
from node.segment.config import SegmentConfig
from node.segment.geometry import Geometry, Volume
from node.segment.nnunet import Segmenter, dice

FRESH_SEEDS = (70001, 70002, 70003, 70004)  # never used for training (1000-1099) or the card


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    cfg = SegmentConfig()
    assert (cfg.model_folder() / "fold_0" / "checkpoint_final.pth").is_file(), "demo model missing"
    return Segmenter(cfg.model_folder(), cfg.model_copy(update={"device": "cpu"}))


def _volume(image: np.ndarray, spacing: tuple[float, float, float]) -> Volume:
    grid = Geometry((0.0, 0.0, 0.0), spacing, (1, 0, 0, 0, 1, 0, 0, 0, 1), image.shape)
    return Volume(image.astype(np.float32), grid, tuple(range(image.shape[0])), False, "1.2.3")


def test_demo_model_dice_on_fresh_cases(segmenter: Segmenter) -> None:
    scores = []
    for seed in FRESH_SEEDS:
        image, truth, spacing, _meta = render_phantom(seed)
        mask = segmenter.predict(_volume(image, spacing))
        scores.append(dice(mask.array, truth))
    assert float(np.mean(scores)) >= 0.85, scores
    assert min(scores) >= 0.6, scores


def test_qc_flags_a_tumour_cut_by_the_field_of_view(segmenter: Segmenter) -> None:
    image, truth, spacing, _ = render_phantom(70011, superficial=False)
    centre = int(np.round(np.nonzero(truth.any(axis=(1, 2)))[0].mean()))
    cut = image[: centre + 1]  # the stack ends in the middle of the tumour
    result = run_qc(segmenter.predict(_volume(cut, spacing)), None, False, QcConfig())
    assert result.status is QcStatus.FAIL
    assert QcCode.TOUCHES_FOV_BORDER in {r.code for r in result.reasons}


def test_qc_flags_a_study_without_tumour(segmenter: Segmenter) -> None:
    image, truth, spacing, _ = render_phantom(70012, n_tumours=0)
    assert truth.sum() == 0
    result = run_qc(segmenter.predict(_volume(image, spacing)), None, False, QcConfig())
    assert result.status is QcStatus.FAIL
    assert {r.code for r in result.reasons} & {QcCode.EMPTY_MASK, QcCode.VOLUME_OUT_OF_RANGE,
                                               QcCode.LOW_CONFIDENCE, QcCode.LOW_AGREEMENT}


def test_qc_flags_two_tumours(segmenter: Segmenter) -> None:
    image, _truth, spacing, _ = render_phantom(70013, n_tumours=2)
    result = run_qc(segmenter.predict(_volume(image, spacing)), None, False, QcConfig())
    assert QcCode.MULTIPLE_COMPONENTS in {r.code for r in result.reasons}
