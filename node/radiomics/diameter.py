"""Longest axial diameter of a mask: the largest distance between two tumour voxel centres that
lie in one true axial plane (patient z constant), in mm.

Radiologists (and the paper's Table 1, "2D axial diameter") measure it on axial images. An
axial series gives those planes directly; a sagittal or coronal one does not, so its mask is
resampled (nearest neighbour) onto an axial grid with the series' finest spacing before the
planes are measured; the result then carries the resampling's half-voxel uncertainty. Within
a plane the maximum is exact: the farthest pair of points always lies on the convex hull, so
all hull vertex pairs are compared (no subsampling).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)
from scipy.spatial import ConvexHull, QhullError

AXIAL_TOLERANCE = 1e-3  # |slice normal . z| within this of 1: the slices are axial


def _max_pair_distance(points: np.ndarray) -> float:
    if len(points) < 2:
        return 0.0
    if len(points) > 3:
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # collinear: every point is a candidate
            pass
    d = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((d ** 2).sum(-1)).max())


def _axial_grid(mask: sitk.Image) -> sitk.Image:
    """``mask`` resampled onto an identity-direction grid over its foreground, finest spacing."""
    step = float(min(mask.GetSpacing()))
    arr = sitk.GetArrayViewFromImage(mask) > 0  # (z, y, x)
    extent = [np.flatnonzero(arr.any(axis=tuple(a for a in range(3) if a != ax))) for ax in (2, 1, 0)]
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float)
    lo = np.array([e[0] for e in extent], float) - 0.5  # (x, y, z) index bounding box
    hi = np.array([e[-1] for e in extent], float) + 0.5
    box = lo + corners * (hi - lo)
    phys = np.array([mask.TransformContinuousIndexToPhysicalPoint(p.tolist()) for p in box])
    origin, end = phys.min(axis=0), phys.max(axis=0)
    size = [int(np.ceil((e - o) / step)) + 1 for o, e in zip(origin, end, strict=True)]
    ref = sitk.Image(size, sitk.sitkUInt8)
    ref.SetSpacing([step] * 3)
    ref.SetOrigin(origin.tolist())
    return sitk.Resample(mask, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def longest_axial_diameter_mm(mask: sitk.Image) -> float:
    """Longest in-plane distance over all true axial planes, rounded to 0.1 mm (0.0 if empty)."""
    binary = sitk.Cast(mask > 0, sitk.sitkUInt8)
    if not sitk.GetArrayViewFromImage(binary).any():
        return 0.0
    normal = np.asarray(binary.GetDirection(), float).reshape(3, 3)[:, 2]
    if abs(abs(normal[2]) - 1.0) > AXIAL_TOLERANCE:
        binary = _axial_grid(binary)
    arr = sitk.GetArrayViewFromImage(binary) > 0  # (z, y, x): one z index = one axial plane here
    direction = np.asarray(binary.GetDirection(), float).reshape(3, 3)
    in_plane = direction[:2, :2] * np.asarray(binary.GetSpacing()[:2])  # x/y mm per (col, row) step
    best = 0.0
    for z in np.flatnonzero(arr.reshape(arr.shape[0], -1).any(axis=1)):
        rows, cols = np.nonzero(arr[z])
        pts = np.stack([cols, rows], axis=1).astype(float) @ in_plane.T
        best = max(best, _max_pair_distance(pts))
    return round(best, 1)
