"""Dice, Jaccard and HD95 (physical spacing) against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813 (the library's own convention)
from scipy import ndimage
from scipy.spatial.distance import cdist

from node.evaluate.segmetrics import score_images, score_masks, summarise


def _ellipsoid(shape, centre, radii) -> np.ndarray:
    g = np.indices(shape).astype(float)
    return sum(((g[i] - centre[i]) / radii[i]) ** 2 for i in range(3)) <= 1.0


def _brute_hd95(a: np.ndarray, b: np.ndarray, spacing) -> float:
    def surface(m):
        return np.argwhere(m & ~ndimage.binary_erosion(m)) * np.asarray(spacing)
    sa, sb = surface(a), surface(b)
    d = cdist(sa, sb)
    return float(np.percentile(np.concatenate([d.min(axis=1), d.min(axis=0)]), 95))


def test_dice_and_jaccard_from_counts():
    a = _ellipsoid((12, 30, 30), (6, 15, 15), (4, 9, 8))
    b = _ellipsoid((12, 30, 30), (6, 16, 14), (4, 8, 9))
    s = score_masks(a, b, (3.0, 0.8, 0.8))
    inter = (a & b).sum()
    assert s.dice == pytest.approx(2 * inter / (a.sum() + b.sum()), abs=1e-12)
    assert s.jaccard == pytest.approx(inter / (a | b).sum(), abs=1e-12)
    assert s.jaccard == pytest.approx(s.dice / (2 - s.dice), abs=1e-12)
    assert s.truth_ml == pytest.approx(b.sum() * 3.0 * 0.64 / 1000, abs=1e-12)


def test_hd95_uses_physical_spacing_and_matches_brute_force():
    a = _ellipsoid((12, 30, 30), (6, 15, 15), (4, 9, 8))
    b = _ellipsoid((12, 30, 30), (7, 16, 14), (4, 8, 9))
    for spacing in ((1.0, 1.0, 1.0), (4.0, 0.7, 0.7)):
        s = score_masks(a, b, spacing)
        assert s.hd95_mm == pytest.approx(_brute_hd95(a, b, spacing), abs=1e-9)
    # anisotropy matters: the same voxels, thicker slices -> a larger distance
    assert score_masks(a, b, (4.0, 0.7, 0.7)).hd95_mm > score_masks(a, b, (1.0, 0.7, 0.7)).hd95_mm


def test_identical_and_empty_masks():
    a = _ellipsoid((10, 20, 20), (5, 10, 10), (3, 6, 6))
    same = score_masks(a, a, (1, 1, 1))
    assert (same.dice, same.jaccard, same.hd95_mm) == (1.0, 1.0, 0.0)
    missed = score_masks(np.zeros_like(a), a, (1, 1, 1))
    assert missed.dice == 0.0 and missed.hd95_mm == float("inf") and missed.predicted_ml == 0.0
    with pytest.raises(ValueError, match="shapes"):
        score_masks(a, a[1:], (1, 1, 1))


def test_images_on_one_grid_and_summary():
    a = _ellipsoid((10, 20, 20), (5, 10, 10), (3, 6, 6)).astype(np.uint8)
    b = np.roll(a, 1, axis=2)
    ia, ib = sitk.GetImageFromArray(a), sitk.GetImageFromArray(b)
    for im in (ia, ib):
        im.SetSpacing((0.5, 0.5, 5.0))  # x, y, z
    s = score_images(ia, ib, "c1")
    assert s.hd95_mm == pytest.approx(_brute_hd95(a > 0, b > 0, (5.0, 0.5, 0.5)), abs=1e-9)
    summary = summarise([s, score_images(ia, ia, "c2")])
    assert summary.n == 2 and summary.dice_median == pytest.approx((s.dice + 1) / 2)
