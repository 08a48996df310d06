"""Extreme-point interactive segmentation (InteractiveNet-style, Spaanderman et al. 2024).

A reviewer places six extreme points (two per axis) on the tumour's outline. We crop the image
to the points' bounding box plus a margin (10 % of the box, at least 8 voxels, at least 3 along a
thick-slice axis: ARCHITECTURE.md "Method details"), add a channel encoding the points (a
Gaussian heat map in millimetres, InteractiveNet uses exp(-geodesic distance)), run a small 3-D
U-Net (:mod:`node.segment.interactive_net`), keep the largest connected component and fill holes.

When no trained model is installed a classical fallback runs instead (:func:`classical_crop`:
Otsu threshold inside the ellipsoid the points span). Its result is honest but weaker; the
method actually used is reported with every mask.

Arrays are ``(z, y, x)`` as everywhere in ``node.segment``; points are ``(z, y, x)`` voxel
indices on the series grid.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
from scipy import ndimage

from node.errors import SegmentationError

N_POINTS = 6
MARGIN_FRACTION = 0.10
MIN_MARGIN = 8
MIN_MARGIN_THICK = 3
THICK_RATIO = 2.0  # an axis is "thick" when its spacing is > 2x the finest one
HEAT_SIGMA_MM = 3.0
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "demo" / "interactive"


class InteractivePointsError(SegmentationError):
    """The points cannot define a box: wrong count, outside the image, or a flat box."""

    code = "interactive_points_invalid"


class InteractiveMethod(StrEnum):
    MODEL = "model"
    CLASSICAL = "ellipsoid_otsu"


@dataclass(frozen=True)
class Box:
    """Crop box as half-open index ranges per axis ``(z, y, x)``."""

    lo: tuple[int, int, int]
    hi: tuple[int, int, int]

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return tuple(slice(a, b) for a, b in zip(self.lo, self.hi, strict=True))  # type: ignore[return-value]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(b - a for a, b in zip(self.lo, self.hi, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True)
class InteractiveResult:
    mask: np.ndarray  # uint8, full image shape
    method: InteractiveMethod
    box: Box
    seconds: float
    model_id: str


def check_points(points: Sequence[Sequence[float]], shape: Sequence[int]) -> np.ndarray:
    """Validate and round the points to an ``(6, 3)`` int array of ``(z, y, x)`` indices."""
    arr = np.asarray(points, dtype=float)
    if arr.shape != (N_POINTS, 3):
        raise InteractivePointsError(
            f"need {N_POINTS} extreme points as (z, y, x) triples, got array of shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InteractivePointsError("points contain NaN or infinity")
    idx = np.rint(arr).astype(int)
    upper = np.asarray(shape[:3]) - 1
    if np.any(idx < 0) or np.any(idx > upper):
        raise InteractivePointsError(f"points {idx.tolist()} lie outside the image {tuple(shape)}")
    extent = idx.max(axis=0) - idx.min(axis=0)
    if np.count_nonzero(extent) < 2:
        raise InteractivePointsError(
            "the points span fewer than two axes; place two points per axis on the tumour's edges"
        )
    return idx


def thick_axes(spacing_zyx: Sequence[float]) -> tuple[bool, bool, bool]:
    finest = min(spacing_zyx)
    return tuple(s > THICK_RATIO * finest for s in spacing_zyx)  # type: ignore[return-value]


def crop_box(points: np.ndarray, shape: Sequence[int], spacing_zyx: Sequence[float]) -> Box:
    """Bounding box of the points + margin (10 %, >= 8 voxels, >= 3 on a thick-slice axis)."""
    lo_pts, hi_pts = points.min(axis=0), points.max(axis=0) + 1
    thick = thick_axes(spacing_zyx)
    lo, hi = [], []
    for ax in range(3):
        extent = int(hi_pts[ax] - lo_pts[ax])
        margin = max(int(np.ceil(MARGIN_FRACTION * extent)), MIN_MARGIN_THICK if thick[ax] else MIN_MARGIN)
        lo.append(max(0, int(lo_pts[ax]) - margin))
        hi.append(min(int(shape[ax]), int(hi_pts[ax]) + margin))
    return Box(tuple(lo), tuple(hi))  # type: ignore[arg-type]


def heat_map(shape: Sequence[int], points_local: np.ndarray, spacing_zyx: Sequence[float],
             sigma_mm: float = HEAT_SIGMA_MM) -> np.ndarray:
    """Max over points of exp(-d^2 / 2 sigma^2), d in millimetres (the guidance channel)."""
    grids = np.meshgrid(*[np.arange(n, dtype=np.float32) * float(s)
                          for n, s in zip(shape, spacing_zyx, strict=True)], indexing="ij")
    out = np.zeros(tuple(shape), dtype=np.float32)
    for p in points_local:
        d2 = sum((g - float(c) * float(s)) ** 2 for g, c, s in zip(grids, p, spacing_zyx, strict=True))
        np.maximum(out, np.exp(-d2 / (2.0 * sigma_mm**2)), out=out)
    return out


def normalise(crop: np.ndarray) -> np.ndarray:
    """z-score inside the crop (robust to vendor scaling; the box is mostly tumour + fat)."""
    crop = crop.astype(np.float32)
    std = float(crop.std())
    return (crop - float(crop.mean())) / (std if std > 1e-6 else 1.0)


def postprocess(mask: np.ndarray) -> np.ndarray:
    """Keep the largest 26-connected component and fill enclosed holes."""
    mask = mask.astype(bool)
    if not mask.any():
        return mask.astype(np.uint8)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    if n > 1:
        sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
        mask = labels == (int(np.argmax(sizes)) + 1)
    return ndimage.binary_fill_holes(mask).astype(np.uint8)


def ellipsoid(shape: Sequence[int], points_local: np.ndarray, scale: float = 1.1) -> np.ndarray:
    """Axis-aligned ellipsoid inscribed in the points' box (semi-axes scaled by ``scale``)."""
    lo, hi = points_local.min(axis=0), points_local.max(axis=0)
    centre, radius = (lo + hi) / 2.0, np.maximum((hi - lo) / 2.0 * scale, 1.0)
    grids = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij")
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radius, strict=True)) <= 1.0


def classical_crop(crop: np.ndarray, points_local: np.ndarray) -> np.ndarray:
    """Classical fallback on the crop: Otsu threshold (Otsu 1979) of the lightly smoothed image
    inside the ellipsoid spanned by the extreme points. Lipoma is fat-bright on T1, so bright
    voxels inside the points' ellipsoid are tumour. (A random walker seeded from the points was
    tried first: slower, and worse on the synthetic cohort's heterogeneous fat.)"""
    from skimage.filters import threshold_otsu

    smooth = ndimage.gaussian_filter(crop.astype(np.float32), 0.7)
    inside = ellipsoid(crop.shape, points_local)
    values = smooth[inside]
    if values.size < 2 or float(values.max()) <= float(values.min()):
        return inside.astype(np.uint8)
    return ((smooth > threshold_otsu(values)) & inside).astype(np.uint8)


def _model_mtime(model_dir: Path) -> float:
    weights = model_dir / "model.pt"
    return weights.stat().st_mtime if weights.is_file() else -1.0


_MODELS: dict[tuple[str, float], object] = {}


def load_model(model_dir: Path | None = None):
    """The trained network of ``model_dir`` (cached per process), or None when not installed."""
    model_dir = Path(model_dir or DEFAULT_MODEL_DIR)
    key = (str(model_dir), _model_mtime(model_dir))
    if key[1] < 0:
        return None
    if key not in _MODELS:
        from node.segment.interactive_net import InteractiveNet

        _MODELS.clear()
        _MODELS[key] = InteractiveNet.load(model_dir)
    return _MODELS[key]


def segment_from_points(image: np.ndarray, spacing_zyx: Sequence[float],
                        points: Sequence[Sequence[float]], *, model_dir: Path | None = None,
                        use_model: bool = True) -> InteractiveResult:
    """Six extreme points → full-size uint8 mask (model if installed, else the classical fallback)."""
    if image.ndim != 3:
        raise InteractivePointsError(f"image must be 3-D (z, y, x), got shape {image.shape}")
    started = time.perf_counter()
    pts = check_points(points, image.shape)
    box = crop_box(pts, image.shape, spacing_zyx)
    crop = image[box.slices]
    local = pts - np.asarray(box.lo)
    model = load_model(model_dir) if use_model else None
    if model is not None:
        crop_mask = model.predict(crop, local, spacing_zyx)  # type: ignore[attr-defined]
        method, model_id = InteractiveMethod.MODEL, model.model_id  # type: ignore[attr-defined]
    else:
        crop_mask = classical_crop(crop, local)
        method, model_id = InteractiveMethod.CLASSICAL, "ellipsoid_otsu@classical"
    full = np.zeros(image.shape, dtype=np.uint8)
    full[box.slices] = crop_mask
    full = postprocess(full)
    return InteractiveResult(full, method, box, time.perf_counter() - started, model_id)


def simulate_points(mask: np.ndarray, rng: np.random.Generator | None = None,
                    inward: int = 2) -> np.ndarray:
    """Six extreme points of a truth mask, each moved up to ``inward`` voxels inside (training
    and tests: a reviewer clicks near, not exactly on, the outermost voxel)."""
    rng = rng or np.random.default_rng(0)
    coords = np.argwhere(mask > 0)
    if len(coords) == 0:
        raise InteractivePointsError("empty mask: no extreme points")
    centre = coords.mean(axis=0)
    out = []
    for ax in range(3):
        for extreme in (coords[:, ax].min(), coords[:, ax].max()):
            cands = coords[coords[:, ax] == extreme]
            p = cands[rng.integers(len(cands))].astype(float)
            step = int(rng.integers(0, inward + 1)) if inward > 0 else 0
            direction = centre - p
            norm = float(np.linalg.norm(direction))
            if norm > 0 and step:
                p = p + direction / norm * step
            out.append(np.rint(p).astype(int))
    return np.asarray(out)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    denom = int(a.sum()) + int(b.sum())
    return 1.0 if denom == 0 else 2.0 * int((a & b).sum()) / denom
