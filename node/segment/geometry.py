"""DICOM series → voxel array with exact patient geometry, and masks back to source frames.

Geometry follows PS3.3 C.7.6.2 (Image Plane module): ``ImageOrientationPatient`` gives the row
and column direction cosines, ``ImagePositionPatient`` the centre of the first transmitted voxel
in LPS millimetres, ``PixelSpacing`` = (row spacing, column spacing). Frames are sorted by their
position along the slice normal ``n = row × col``; the slice spacing is the step between sorted
positions (never ``SliceThickness``, which ignores gaps). Enhanced MR (PS3.3 A.36.7) carries the
same attributes per frame in ``PerFrameFunctionalGroupsSequence`` or once in
``SharedFunctionalGroupsSequence`` (PS3.3 C.7.6.16).

Axis conventions: arrays are ``(z, y, x)`` = (sorted frame, row, column). ``Geometry`` stores
origin, spacing and direction in SimpleITK/ITK ``(x, y, z)`` order, so :func:`to_sitk` is a
copy. ``Volume.source_order[k]`` is the position in the *input* (dataset list for classic
series, frame index for Enhanced) of sorted slice ``k``.

Hand-off to the SEG writer (``node.report.build_seg(source_datasets, mask)``): it expects the mask
as ``(n_frames, rows, cols)`` in the order of the source datasets it is given. Use
:func:`seg_source` to get both: for classic series the datasets sorted along the normal
(:func:`sort_frames`) and the mask in that order; for Enhanced, the single dataset and the mask
rearranged to its original frame order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 (the library's own convention)
from pydicom.dataset import Dataset

from node.errors import SegmentationError

ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"
_ORTHO_TOL = 1e-3  # direction cosines: unit length and orthogonality
_SPACING_TOL = 0.01  # relative deviation of slice steps from their median
_SHEAR_TOL = 1e-3  # IPP steps must be parallel to the normal (no gantry tilt/shear)


class GeometryError(SegmentationError):
    """A series cannot be turned into one regular 3-D grid (mixed orientation, gaps, shear)."""

    code = "geometry_invalid"


@dataclass(frozen=True)
class Geometry:
    """A regular 3-D voxel grid in patient (LPS) space, ITK (x, y, z) order."""

    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    direction: tuple[float, ...]  # 9 values, row-major 3x3; columns are the x, y, z axes
    shape: tuple[int, int, int]  # array shape (z, y, x)

    def __post_init__(self) -> None:
        if len(self.direction) != 9 or len(self.origin) != 3 or len(self.spacing) != 3:
            raise ValueError("origin/spacing need 3 values and direction 9")
        if min(self.spacing) <= 0:
            raise ValueError(f"spacing must be positive, got {self.spacing}")

    @property
    def matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    def index_to_lps(self, ijk: np.ndarray) -> np.ndarray:
        """Voxel indices ``(..., 3)`` in (x, y, z) order → LPS millimetres."""
        return np.asarray(self.origin) + (np.asarray(ijk, float) * np.asarray(self.spacing)) @ self.matrix.T

    def same_grid(self, other: Geometry, tol_mm: float = 1e-3) -> bool:
        """True when both grids put every voxel at the same place (within ``tol_mm``)."""
        if self.shape != other.shape:
            return False
        corners = np.array([[i, j, k] for i in (0, self.shape[2] - 1)
                            for j in (0, self.shape[1] - 1) for k in (0, self.shape[0] - 1)])
        return bool(np.abs(self.index_to_lps(corners) - other.index_to_lps(corners)).max() <= tol_mm)


@dataclass(frozen=True, eq=False)
class Volume:
    """Pixel values on a ``Geometry`` plus the link back to the source frames."""

    array: np.ndarray  # (z, y, x) float32, modality values (rescale applied)
    geometry: Geometry
    source_order: tuple[int, ...]  # sorted slice k ← input dataset/frame source_order[k]
    enhanced: bool
    series_uid: str


@dataclass(frozen=True, eq=False)
class Mask:
    """A binary mask on a volume's grid, as produced by a model (STYLE.md #1)."""

    array: np.ndarray  # (z, y, x) uint8 {0, 1}
    geometry: Geometry
    model_id: str
    probabilities: np.ndarray | None = None  # (z, y, x) float32 foreground probability
    agreement: float | None = None  # Dice between two prediction variants (QC)

    def __post_init__(self) -> None:
        if self.array.shape != self.geometry.shape:
            raise ValueError(f"mask shape {self.array.shape} != grid {self.geometry.shape}")
        if self.probabilities is not None and self.probabilities.shape != self.array.shape:
            raise ValueError("probabilities must have the mask's shape")


def _floats(value: Iterable[object]) -> np.ndarray:
    return np.array([float(v) for v in value], dtype=float)


@dataclass(frozen=True)
class _Frame:
    position: np.ndarray
    orientation: np.ndarray
    pixel_spacing: np.ndarray


def _frame_geometry(ds: Dataset, shared: Dataset | None, frame: Dataset | None) -> _Frame:
    """Plane geometry of one frame: classic top level, or Enhanced functional groups."""
    def attr(seq_name: str, name: str) -> object:
        for group in (frame, shared):
            if group is not None and seq_name in group and getattr(group, seq_name):
                item = getattr(group, seq_name)[0]
                if name in item:
                    return item[name].value
        if name in ds:
            return ds[name].value
        raise GeometryError(f"series {ds.get('SeriesInstanceUID', '?')}: no {name}")

    return _Frame(
        position=_floats(attr("PlanePositionSequence", "ImagePositionPatient")),
        orientation=_floats(attr("PlaneOrientationSequence", "ImageOrientationPatient")),
        pixel_spacing=_floats(attr("PixelMeasuresSequence", "PixelSpacing")),
    )


def _rescale(ds: Dataset, shared: Dataset | None, frame: Dataset | None) -> tuple[float, float]:
    for group in (frame, shared):
        if group is not None and "PixelValueTransformationSequence" in group:
            item = group.PixelValueTransformationSequence[0]
            return float(item.get("RescaleSlope", 1.0)), float(item.get("RescaleIntercept", 0.0))
    return float(ds.get("RescaleSlope", 1.0)), float(ds.get("RescaleIntercept", 0.0))


def _frames(datasets: Sequence[Dataset]) -> tuple[list[_Frame], list[np.ndarray], bool]:
    """All frames of the input, in input order, with their pixel planes (rescaled)."""
    if len(datasets) == 1 and "PerFrameFunctionalGroupsSequence" in datasets[0]:
        ds = datasets[0]
        shared = ds.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in ds else None
        per_frame = ds.PerFrameFunctionalGroupsSequence
        pixels = ds.pixel_array.reshape(int(ds.NumberOfFrames), ds.Rows, ds.Columns)
        frames, planes = [], []
        for i, item in enumerate(per_frame):
            frames.append(_frame_geometry(ds, shared, item))
            slope, intercept = _rescale(ds, shared, item)
            planes.append(pixels[i].astype(np.float32) * slope + intercept)
        return frames, planes, True
    frames, planes = [], []
    for ds in datasets:
        if "PerFrameFunctionalGroupsSequence" in ds:
            raise GeometryError("an Enhanced (multi-frame) instance must be the only one of its series")
        frames.append(_frame_geometry(ds, None, None))
        slope, intercept = _rescale(ds, None, None)
        planes.append(ds.pixel_array.astype(np.float32) * slope + intercept)
    return frames, planes, False


def _sorted_geometry(frames: list[_Frame], rows: int, cols: int) -> tuple[Geometry, list[int]]:
    ref = frames[0]
    for f in frames[1:]:
        if not np.allclose(f.orientation, ref.orientation, atol=_ORTHO_TOL):
            raise GeometryError("frames have different ImageOrientationPatient")
        if not np.allclose(f.pixel_spacing, ref.pixel_spacing, rtol=1e-4):
            raise GeometryError("frames have different PixelSpacing")
    row_cos, col_cos = ref.orientation[:3], ref.orientation[3:]
    if (abs(np.linalg.norm(row_cos) - 1) > _ORTHO_TOL or abs(np.linalg.norm(col_cos) - 1) > _ORTHO_TOL
            or abs(float(row_cos @ col_cos)) > _ORTHO_TOL):
        raise GeometryError(f"ImageOrientationPatient {ref.orientation.tolist()} is not orthonormal")
    normal = np.cross(row_cos, col_cos)
    positions = np.array([f.position for f in frames])
    along = positions @ normal
    order = [int(i) for i in np.argsort(along, kind="stable")]
    steps = np.diff(along[order])
    if len(frames) > 1:
        if np.any(steps <= 1e-4):
            raise GeometryError("two frames share one position along the normal (multi-echo/phase?)")
        step = float(np.median(steps))
        if np.abs(steps - step).max() > _SPACING_TOL * step:
            raise GeometryError(f"slice steps are irregular ({steps.min():.3f}-{steps.max():.3f} mm)")
        offsets = np.diff(positions[order], axis=0) - np.outer(steps, normal)
        if np.abs(offsets).max() > 0.01 + _SHEAR_TOL * step:
            raise GeometryError("ImagePositionPatient steps are not along the normal (sheared stack)")
    else:
        step = 1.0
    direction = np.column_stack([row_cos, col_cos, normal])
    geometry = Geometry(
        origin=tuple(float(v) for v in positions[order[0]]),
        spacing=(float(ref.pixel_spacing[1]), float(ref.pixel_spacing[0]), step),
        direction=tuple(float(v) for v in direction.ravel()),
        shape=(len(frames), rows, cols),
    )
    return geometry, order


def read_series(datasets: Sequence[Dataset]) -> Volume:
    """One series (classic single-frame list, or one Enhanced multi-frame) → :class:`Volume`."""
    if not datasets:
        raise GeometryError("no instances given")
    uids = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets}
    if len(uids) != 1:
        raise GeometryError(f"instances from {len(uids)} series given; expected one")
    shapes = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    if len(shapes) != 1:
        raise GeometryError(f"frames have different matrix sizes {sorted(shapes)}")
    rows, cols = shapes.pop()
    frames, planes, enhanced = _frames(datasets)
    geometry, order = _sorted_geometry(frames, rows, cols)
    array = np.stack([planes[i] for i in order]).astype(np.float32)
    return Volume(array, geometry, tuple(order), enhanced, uids.pop())


def read_series_files(paths: Iterable[Path]) -> Volume:
    """Read DICOM files of one series from disk (see :func:`read_series`)."""
    return read_series([pydicom.dcmread(str(p)) for p in paths])


def sort_frames(datasets: Sequence[Dataset]) -> list[Dataset]:
    """Classic single-frame datasets sorted along the slice normal (the Volume's z order)."""
    frames = [_frame_geometry(ds, None, None) for ds in datasets]
    _, order = _sorted_geometry(frames, int(datasets[0].Rows), int(datasets[0].Columns))
    return [datasets[i] for i in order]


def to_source_order(array: np.ndarray, volume: Volume) -> np.ndarray:
    """``(z, y, x)`` array on the volume grid → frames in *input* order (inverse of sorting)."""
    if array.shape != volume.geometry.shape:
        raise ValueError(f"array shape {array.shape} != volume grid {volume.geometry.shape}")
    out = np.empty_like(array)
    out[list(volume.source_order)] = array
    return out


def from_source_order(frames: np.ndarray, volume: Volume) -> np.ndarray:
    """Frames in input order → ``(z, y, x)`` on the volume grid (as :func:`read_series` sorts)."""
    return frames[list(volume.source_order)]


def seg_source(
    datasets: Sequence[Dataset], mask: np.ndarray, volume: Volume
) -> tuple[list[Dataset], np.ndarray]:
    """Datasets and ``(n_frames, rows, cols)`` mask in matching order, for ``build_seg``."""
    if volume.enhanced:
        return list(datasets), to_source_order(mask, volume)
    return [datasets[i] for i in volume.source_order], mask


def to_sitk(array: np.ndarray, geometry: Geometry) -> sitk.Image:
    """Array ``(z, y, x)`` + geometry → SimpleITK image (same voxels, same physical space)."""
    if array.shape != geometry.shape:
        raise ValueError(f"array shape {array.shape} != grid {geometry.shape}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetOrigin(geometry.origin)
    image.SetSpacing(geometry.spacing)
    image.SetDirection(geometry.direction)
    return image


def geometry_of(image: sitk.Image) -> Geometry:
    """The grid of a SimpleITK image (e.g. a NIfTI truth mask)."""
    size = image.GetSize()
    return Geometry(tuple(image.GetOrigin()), tuple(image.GetSpacing()), tuple(image.GetDirection()),
                    (size[2], size[1], size[0]))


def array_on_grid(image: sitk.Image, geometry: Geometry, label: bool = True) -> np.ndarray:
    """``image`` sampled on ``geometry``: a plain copy when the grids coincide, else resampled
    (nearest neighbour for labels, linear otherwise)."""
    if geometry_of(image).same_grid(geometry):
        return sitk.GetArrayFromImage(image)
    ref = to_sitk(np.zeros(geometry.shape, np.uint8), geometry)
    interp = sitk.sitkNearestNeighbor if label else sitk.sitkLinear
    return sitk.GetArrayFromImage(sitk.Resample(image, ref, sitk.Transform(), interp, 0.0))
