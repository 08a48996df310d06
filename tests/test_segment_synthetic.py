"""Synthetic twin studies (node.synthetic): the truth mask survives DICOM → volume → source
frames voxel for voxel, classic and Enhanced MR, and agrees with SimpleITK's series reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813
from test_segment_geometry import _check_round_trip

from node.segment.geometry import (
    array_on_grid,
    from_source_order,
    geometry_of,
    read_series,
    seg_source,
    to_source_order,
)
from node.synthetic.study import StudySpec, generate_study

# seed 1: axial (FFS), seed 6: coronal; both also written as Enhanced MR
CASES = [(1, False), (6, False), (1, True), (6, True)]


@pytest.mark.parametrize(("seed", "enhanced"), CASES)
def test_synthetic_truth_mask_round_trips_through_the_t1_series(
    seed: int, enhanced: bool, tmp_path: Path
) -> None:
    study = generate_study(tmp_path, StudySpec(seed=seed, enhanced=enhanced, max_matrix=128))
    files = sorted(p for p in study.t1_series_dir.iterdir() if p.is_file())
    datasets = [pydicom.dcmread(str(p)) for p in files]
    assert (len(datasets) == 1) == enhanced
    volume = read_series(datasets)
    assert volume.enhanced == enhanced
    truth_img = sitk.ReadImage(str(study.mask_path))
    assert geometry_of(truth_img).same_grid(volume.geometry, tol_mm=1e-3)
    truth = array_on_grid(truth_img, volume.geometry)
    np.testing.assert_array_equal(truth, sitk.GetArrayFromImage(truth_img))
    assert truth.sum() > 0
    frames = to_source_order(truth, volume)  # the mask as the SEG writer would see it
    _check_round_trip(datasets, volume, frames)
    np.testing.assert_array_equal(from_source_order(frames, volume), truth)
    ordered, seg_frames = seg_source(datasets, truth, volume)
    assert len(ordered) == len(datasets) and seg_frames.shape[0] == truth.shape[0]
    # the tumour is fat: bright on T1 compared with the whole slab
    assert volume.array[truth > 0].mean() > np.median(volume.array)


def test_synthetic_classic_series_matches_simpleitk_reader(tmp_path: Path) -> None:
    study = generate_study(tmp_path, StudySpec(seed=6, max_matrix=128))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(study.t1_series_dir)))
    ref = reader.Execute()
    volume = read_series([pydicom.dcmread(str(p)) for p in sorted(study.t1_series_dir.iterdir())])
    assert geometry_of(ref).same_grid(volume.geometry, tol_mm=1e-3)
    np.testing.assert_allclose(volume.array, sitk.GetArrayFromImage(ref).astype(np.float32), atol=1e-3)
