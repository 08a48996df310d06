"""Longest axial diameter: true axial planes whatever the acquisition plane, exact within a plane."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from node.radiomics.diameter import longest_axial_diameter_mm


def _ellipsoid(direction: tuple[float, ...], spacing: tuple[float, float, float],
               size: tuple[int, int, int], semi_axes_mm: tuple[float, float, float]) -> sitk.Image:
    """A binary ellipsoid centred at the patient origin with semi-axes along patient x, y, z."""
    img = sitk.Image(list(size), sitk.sitkUInt8)
    img.SetSpacing(spacing)
    img.SetDirection(direction)
    centre = np.asarray(img.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in size]))
    img.SetOrigin((-centre + np.asarray(img.GetOrigin())).tolist())
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in size], indexing="ij"), axis=-1).reshape(-1, 3)
    d = np.asarray(direction).reshape(3, 3)
    phys = (idx * np.asarray(spacing)) @ d.T + np.asarray(img.GetOrigin())
    inside = ((phys / np.asarray(semi_axes_mm)) ** 2).sum(axis=1) <= 1.0
    arr = inside.reshape(size).transpose(2, 1, 0).astype(np.uint8)  # sitk arrays are (z, y, x)
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(img)
    return out


def test_two_voxels_in_one_axial_slice_give_their_exact_distance() -> None:
    arr = np.zeros((3, 50, 60), np.uint8)
    arr[1, 5, 7] = arr[1, 44, 51] = 1
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.7, 0.9, 5.0))
    expected = np.hypot((51 - 7) * 0.7, (44 - 5) * 0.9)
    assert longest_axial_diameter_mm(img) == pytest.approx(round(expected, 1))


def test_the_hull_gives_the_same_maximum_as_every_pair() -> None:
    rng = np.random.default_rng(4)
    arr = (rng.random((1, 40, 40)) > 0.7).astype(np.uint8)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.8, 1.1, 3.0))
    ys, xs = np.nonzero(arr[0])
    pts = np.stack([xs * 0.8, ys * 1.1], axis=1)
    brute = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)).max()
    assert longest_axial_diameter_mm(img) == pytest.approx(round(float(brute), 1))


def test_a_sagittal_series_is_measured_in_true_axial_planes() -> None:
    # a tumour 150 mm long cranio-caudally, 60 x 40 mm axially
    semi = (30.0, 20.0, 75.0)
    axial = _ellipsoid((1, 0, 0, 0, 1, 0, 0, 0, 1), (1.0, 1.0, 2.0), (70, 50, 80), semi)
    # sagittal: columns run along patient y, rows along -z, slices along x (4 mm apart)
    sag_dir = (0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
    sagittal = _ellipsoid(sag_dir, (1.0, 1.0, 4.0), (50, 160, 18), semi)
    assert int(sitk.GetArrayViewFromImage(sagittal).sum()) > 1000
    d_axial = longest_axial_diameter_mm(axial)
    d_sag = longest_axial_diameter_mm(sagittal)
    assert d_axial == pytest.approx(60.0, abs=2.0)
    # same object, other acquisition plane: within a 4 mm slice spacing, nowhere near 150 mm
    assert d_sag == pytest.approx(d_axial, abs=4.0)


def test_empty_mask_has_no_diameter() -> None:
    assert longest_axial_diameter_mm(sitk.Image([4, 4, 4], sitk.sitkUInt8)) == 0.0
