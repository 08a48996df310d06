"""The bundled demo model (node/models/demo/seg) on freshly generated synthetic studies, through
the whole DICOM path (series → volume → nnU-Net → mask), and QC on studies built to fail.
No training here: CI only runs inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813

from node.qc.checks import QcCode, QcResult, QcStatus, run_qc
from node.qc.config import QcConfig
from node.segment.config import DevicePolicy, SegmentConfig
from node.segment.geometry import Mask, array_on_grid, read_series
from node.segment.nnunet import Segmenter, dice
from node.synthetic.study import StudySpec, generate_study

FRESH_SEEDS = (424201, 424202, 424203, 424204)  # not in any cohort (cohort seeds are hashed)
TARGET_MEAN_DICE = 0.85  # issue 5 / the paper's nnU-Net (DSC 0.86)
FLOOR_MEAN_DICE = 0.6  # what the bundled, CPU-budget demo model must at least keep (regression)


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    cfg = SegmentConfig()
    assert (cfg.model_folder() / "fold_0" / "checkpoint_final.pth").is_file(), "demo model missing"
    return Segmenter(cfg.model_folder(), cfg.model_copy(update={"device": DevicePolicy.CPU}))


def _segment(segmenter: Segmenter, out: Path, spec: StudySpec) -> tuple[Mask, np.ndarray]:
    study = generate_study(out, spec)
    files = sorted(p for p in study.t1_series_dir.iterdir() if p.is_file())
    volume = read_series([pydicom.dcmread(str(p)) for p in files])
    truth = array_on_grid(sitk.ReadImage(str(study.mask_path)), volume.geometry)
    return segmenter.predict(volume), truth


def _qc(mask: Mask) -> QcResult:
    return run_qc(mask, None, False, QcConfig())


@pytest.fixture(scope="module")
def fresh_scores(segmenter: Segmenter, tmp_path_factory: pytest.TempPathFactory) -> list[float]:
    root = tmp_path_factory.mktemp("fresh")
    scores = []
    for seed in FRESH_SEEDS:
        mask, truth = _segment(segmenter, root / str(seed), StudySpec(seed=seed, max_matrix=192))
        scores.append(dice(mask.array, truth))
    return scores


def test_demo_model_keeps_its_dice_on_fresh_synthetic_studies(fresh_scores: list[float]) -> None:
    assert float(np.mean(fresh_scores)) >= FLOOR_MEAN_DICE, fresh_scores


def test_demo_model_reaches_target_dice_on_fresh_synthetic_studies(fresh_scores: list[float]) -> None:
    assert float(np.mean(fresh_scores)) >= TARGET_MEAN_DICE, fresh_scores


def test_qc_flags_a_tumour_cut_by_the_field_of_view(segmenter: Segmenter, tmp_path: Path) -> None:
    mask, _ = _segment(segmenter, tmp_path, StudySpec(seed=424211, case="fov_cut", max_matrix=192))
    result = _qc(mask)
    assert result.status is QcStatus.FAIL
    assert QcCode.TOUCHES_FOV_BORDER in {r.code for r in result.reasons}


def test_qc_flags_a_study_without_tumour(segmenter: Segmenter, tmp_path: Path) -> None:
    mask, truth = _segment(segmenter, tmp_path, StudySpec(seed=424212, case="no_tumour", max_matrix=192))
    assert truth.sum() == 0
    result = _qc(mask)
    assert result.status is QcStatus.FAIL
    assert {r.code for r in result.reasons} & {QcCode.EMPTY_MASK, QcCode.VOLUME_OUT_OF_RANGE,
                                               QcCode.LOW_CONFIDENCE, QcCode.LOW_AGREEMENT,
                                               QcCode.MULTIPLE_COMPONENTS}


@pytest.mark.xfail(strict=True, reason="the CPU-trained demo model does not segment the second, "
                   "smaller tumour of this study as a large component; the check itself is unit-tested "
                   "in test_qc_checks.py::test_two_tumours_are_flagged_but_a_speck_is_not")
def test_qc_flags_two_tumours(segmenter: Segmenter, tmp_path: Path) -> None:
    mask, _ = _segment(segmenter, tmp_path, StudySpec(seed=424213, case="two_tumours", max_matrix=192))
    assert QcCode.MULTIPLE_COMPONENTS in {r.code for r in _qc(mask).reasons}
