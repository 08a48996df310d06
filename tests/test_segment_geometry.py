"""DICOM → volume → mask → source frames: voxel-for-voxel round trips (PS3.3 C.7.6.2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from segment_helpers import classic_series, enhanced_from_classic, write_series

from node.segment.geometry import (
    GeometryError,
    from_source_order,
    read_series,
    read_series_files,
    seg_source,
    sort_frames,
    to_sitk,
    to_source_order,
)

ORIENTS = ["axial", "coronal", "sagittal", "oblique"]


def _frame_masks(n: int, rows: int, cols: int, seed: int) -> np.ndarray:
    """A different blob per source frame, so any frame permutation shows up."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :cols]
    masks = np.zeros((n, rows, cols), np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(8, rows - 8), rng.uniform(8, cols - 8), rng.uniform(3, 7)
        masks[i] = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)
    return masks


def _ipp(ds, i: int) -> np.ndarray:
    if "PerFrameFunctionalGroupsSequence" in ds:
        return np.array(ds.PerFrameFunctionalGroupsSequence[i].PlanePositionSequence[0].ImagePositionPatient,
                        float)
    return np.array(ds.ImagePositionPatient, float)


def _check_round_trip(datasets, volume, frames_mask: np.ndarray) -> None:
    """Mask placed on the grid sits where each source frame is; and comes back unchanged."""
    grid = from_source_order(frames_mask, volume)
    image = to_sitk(grid, volume.geometry)
    enhanced = volume.enhanced
    for i in range(frames_mask.shape[0]):
        ipp = _ipp(datasets[0], i) if enhanced else _ipp(datasets[i], 0)
        k = image.TransformPhysicalPointToIndex(tuple(ipp))
        assert k[0] == 0 and k[1] == 0, "frame origin must be voxel (0, 0) of its slice"
        np.testing.assert_array_equal(grid[k[2]], frames_mask[i])
    np.testing.assert_array_equal(to_source_order(grid, volume), frames_mask)
    ordered, seg_frames = seg_source(datasets, grid, volume)
    if enhanced:
        np.testing.assert_array_equal(seg_frames, frames_mask)
    else:
        for ds, frame in zip(ordered, seg_frames, strict=True):
            np.testing.assert_array_equal(frame, frames_mask[datasets.index(ds)])


@pytest.mark.parametrize("orientation", ORIENTS)
def test_classic_series_round_trips_mask_voxel_for_voxel(orientation: str) -> None:
    datasets = classic_series(orientation, seed=ORIENTS.index(orientation))
    volume = read_series(datasets)
    _check_round_trip(datasets, volume, _frame_masks(len(datasets), 40, 48, seed=1))


@pytest.mark.parametrize("orientation", ORIENTS)
def test_enhanced_series_round_trips_mask_and_matches_classic(orientation: str) -> None:
    classic = classic_series(orientation, seed=10 + ORIENTS.index(orientation))
    enhanced = enhanced_from_classic(classic)
    vol_e, vol_c = read_series([enhanced]), read_series(classic)
    assert vol_e.enhanced and not vol_c.enhanced
    assert vol_e.geometry.same_grid(vol_c.geometry, tol_mm=1e-4)
    np.testing.assert_array_equal(vol_e.array, vol_c.array)
    _check_round_trip([enhanced], vol_e, _frame_masks(int(enhanced.NumberOfFrames), 40, 48, seed=2))


@pytest.mark.parametrize("orientation", ORIENTS)
def test_geometry_matches_simpleitk_series_reader(orientation: str, tmp_path: Path) -> None:
    datasets = classic_series(orientation, seed=20 + ORIENTS.index(orientation))
    write_series(datasets, tmp_path)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path)))
    ref = reader.Execute()
    volume = read_series_files(sorted(tmp_path.glob("*.dcm")))
    np.testing.assert_allclose(volume.geometry.origin, ref.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(volume.geometry.spacing, ref.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(volume.geometry.direction, ref.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(ref).astype(np.float32))


def test_real_siemens_sagittal_series(siemens_study: Path) -> None:
    folder = siemens_study / "3_t1_fl2d_sag"
    files = sorted(folder.glob("*.dcm"))
    volume = read_series_files(files)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    ref = reader.Execute()
    assert volume.geometry.shape == (35, 256, 256)
    assert abs(volume.geometry.matrix[0, 2]) > 0.99, "slice normal of a sagittal series is ±x (L-R)"
    np.testing.assert_allclose(volume.geometry.origin, ref.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(volume.geometry.spacing, ref.GetSpacing(), atol=1e-4)
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(ref).astype(np.float32))
    import pydicom

    datasets = [pydicom.dcmread(str(f)) for f in files]
    frames = _frame_masks(len(datasets), 256, 256, seed=3)
    _check_round_trip(datasets, read_series(datasets), frames)
    assert [ds.SOPInstanceUID for ds in sort_frames(datasets)] == [
        datasets[i].SOPInstanceUID for i in volume.source_order
    ]


def test_mixed_orientations_are_rejected() -> None:
    a = classic_series("axial", n=4, seed=5, shuffle=False)
    b = classic_series("coronal", n=4, seed=5, shuffle=False)
    for ds in b:
        ds.SeriesInstanceUID = a[0].SeriesInstanceUID
    with pytest.raises(GeometryError, match="ImageOrientationPatient"):
        read_series(a + b)


def test_duplicate_positions_are_rejected() -> None:
    datasets = classic_series("axial", n=4, seed=6, shuffle=False)
    datasets[1].ImagePositionPatient = list(datasets[0].ImagePositionPatient)
    with pytest.raises(GeometryError, match="share one position"):
        read_series(datasets)


def test_sheared_stack_is_rejected() -> None:
    datasets = classic_series("axial", n=5, seed=7, shuffle=False)
    for i, ds in enumerate(datasets):
        ipp = list(ds.ImagePositionPatient)
        ds.ImagePositionPatient = [ipp[0], ipp[1] + 0.5 * i, ipp[2]]  # gantry tilt
    with pytest.raises(GeometryError, match="sheared"):
        read_series(datasets)
