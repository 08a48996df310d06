"""Image grid of one series in patient coordinates (DICOM LPS, PS3.3 C.7.6.2.1.1).

A grid is the geometry a scanner writes: ImageOrientationPatient = (row, col) direction
cosines, PixelSpacing = (between rows, between columns), ImagePositionPatient of slice k =
origin + k * spacing_between_slices * normal, normal = row x col. Arrays are (k, j, i) =
(slice, row, column), SimpleITK's order, so ``to_sitk`` needs no transposes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.synthetic.enums import Plane


@dataclass(frozen=True)
class Grid:
    shape: tuple[int, int, int]        # (slices, rows, columns)
    pixel_mm: tuple[float, float]      # (row spacing = between rows, column spacing)
    slice_spacing_mm: float            # centre-to-centre, thickness + gap
    thickness_mm: float
    origin: tuple[float, float, float]  # LPS of voxel (0, 0, 0)
    row: tuple[float, float, float]    # direction of increasing column index i
    col: tuple[float, float, float]    # direction of increasing row index j

    @property
    def normal(self) -> np.ndarray:
        return np.cross(np.asarray(self.row), np.asarray(self.col))

    @property
    def direction(self) -> np.ndarray:
        """3x3 with columns (row, col, normal): index (i, j, k) axes in LPS."""
        return np.stack([np.asarray(self.row), np.asarray(self.col), self.normal], axis=1)

    @property
    def spacing_xyz(self) -> tuple[float, float, float]:
        return (self.pixel_mm[1], self.pixel_mm[0], self.slice_spacing_mm)

    def slice_position(self, k: int) -> np.ndarray:
        return np.asarray(self.origin) + k * self.slice_spacing_mm * self.normal

    def points(self, k: int, sub_inplane: int = 1, sub_slice: int = 1,
               rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """LPS points (sub_slice * sub_inplane^2, rows, cols, 3) sampling slice ``k``'s voxels.

        In-plane sub-samples tile each pixel; slice sub-samples tile the slice *thickness*
        (a gap is not excited), which is what partial volume over a thick slice means.
        ``rows``/``cols`` restrict the points to a window of the slice.
        """
        _, ny, nx = self.shape
        sx, sy = self.pixel_mm[1], self.pixel_mm[0]
        off_in = (np.arange(sub_inplane) + 0.5) / sub_inplane - 0.5
        off_sl = (np.arange(sub_slice) + 0.5) / sub_slice - 0.5
        ii = np.arange(nx, dtype=np.float32)[cols]
        jj = np.arange(ny, dtype=np.float32)[rows]
        row, col, nrm = (np.asarray(v, dtype=np.float32) for v in (self.row, self.col, self.normal))
        base = np.asarray(self.slice_position(k), dtype=np.float32)
        out = []
        for ds in off_sl:
            for dj in off_in:
                for di in off_in:
                    p = (base + ds * self.thickness_mm * nrm)[None, None, :] \
                        + ((ii + di) * sx)[None, :, None] * row \
                        + ((jj + dj) * sy)[:, None, None] * col
                    out.append(p)
        return np.stack(out)

    def to_index(self, lps: np.ndarray) -> np.ndarray:
        """Continuous (i, j, k) indices of LPS points (..., 3)."""
        rel = (np.asarray(lps, float) - np.asarray(self.origin)) @ self.direction
        return rel / np.asarray(self.spacing_xyz)

    def to_sitk(self, array: np.ndarray) -> sitk.Image:
        """A SimpleITK image of ``array`` (k, j, i) with this geometry."""
        img = sitk.GetImageFromArray(array)
        img.SetSpacing(self.spacing_xyz)
        img.SetOrigin(tuple(float(v) for v in self.origin))
        img.SetDirection(tuple(float(v) for v in self.direction.flatten()))
        return img


def rotation(ax: float, ay: float, az: float) -> np.ndarray:
    """Rotation matrix from angles (degrees) about x, y, z."""
    a, b, c = np.deg2rad([ax, ay, az])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def plane_axes(plane: Plane, feet_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Row and column cosines of the usual display of ``plane`` (LPS).

    Axial: row = patient left (HFS) or right (FFS, as scanners report it), col = posterior.
    Coronal: row = left, col = inferior. Sagittal: row = posterior, col = inferior.
    """
    if plane is Plane.axial:
        row = np.array([-1.0, 0, 0]) if feet_first else np.array([1.0, 0, 0])
        return row, np.array([0.0, 1, 0])
    if plane is Plane.coronal:
        return np.array([1.0, 0, 0]), np.array([0.0, 0, -1])
    return np.array([0.0, 1, 0]), np.array([0.0, 0, -1])


def make_grid(plane: Plane, centre: np.ndarray, fov_mm: tuple[float, float], matrix: tuple[int, int],
              n_slices: int, thickness_mm: float, gap_mm: float, oblique_deg: tuple[float, float] = (0, 0),
              feet_first: bool = False) -> Grid:
    """A grid centred on ``centre`` (LPS) with ``matrix`` = (rows, cols) over ``fov_mm``.

    ``oblique_deg`` tilts the plane about its row and column axes (<= 10 deg in practice).
    """
    row, col = plane_axes(plane, feet_first)
    nrm = np.cross(row, col)
    tilt = _axis_rotation(row, oblique_deg[0]) @ _axis_rotation(col, oblique_deg[1])
    row, col = tilt @ row, tilt @ col
    nrm = np.cross(row, col)
    ny, nx = matrix
    sy, sx = fov_mm[0] / ny, fov_mm[1] / nx
    spacing = thickness_mm + gap_mm
    origin = (np.asarray(centre, float) - (nx - 1) / 2 * sx * row - (ny - 1) / 2 * sy * col
              - (n_slices - 1) / 2 * spacing * nrm)
    return Grid(shape=(n_slices, ny, nx), pixel_mm=(sy, sx), slice_spacing_mm=spacing,
                thickness_mm=thickness_mm, origin=tuple(origin.tolist()),
                row=tuple(row.tolist()), col=tuple(col.tolist()))


def _axis_rotation(axis: np.ndarray, deg: float) -> np.ndarray:
    """Rodrigues rotation about a unit axis."""
    a = np.deg2rad(deg)
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * kx @ kx
