"""Patient motion between series: a small rigid move of the anatomy under a fixed scanner grid.

Between two series of one study a patient shifts a few millimetres and rolls a degree or two.
The scanner writes every series' geometry in its own frame (ImagePositionPatient stays where
the technologist planned it), so the header of the second series no longer lines up with the
anatomy of the first: that is why the paper registered every sequence to the T1 with elastix
before transferring the T1 mask.

The motion is drawn from a generator seeded by the case seed and the series number, so adding
motion does not consume the study's own random stream (the other draws of a study stay as
they were).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from node.synthetic.anatomy import Phantom
from node.synthetic.grid import Grid, rotation
from node.synthetic.render import Sampled, sample

MAX_SHIFT_MM = 6.0
MAX_ROTATION_DEG = 4.0


@dataclass(frozen=True)
class Motion:
    """Anatomy point x appears at R (x - c) + c + t in the scanner frame (LPS, mm)."""

    rotation_deg: tuple[float, float, float]
    shift_mm: tuple[float, float, float]
    centre: tuple[float, float, float]

    @property
    def matrix(self) -> np.ndarray:
        return rotation(*self.rotation_deg)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Where anatomy points (..., 3) end up after the move."""
        c = np.asarray(self.centre)
        return (np.asarray(points, float) - c) @ self.matrix.T + c + np.asarray(self.shift_mm)


def draw_motion(seed: int, series_number: int, centre: np.ndarray,
                shift_sd_mm: float = 2.0, rotation_sd_deg: float = 1.5) -> Motion:
    """A small rigid move (clipped normal draws) for one series of one case."""
    rng = np.random.default_rng([int(seed), 0x307E, int(series_number)])
    shift = np.clip(rng.normal(0, shift_sd_mm, 3), -MAX_SHIFT_MM, MAX_SHIFT_MM)
    rot = np.clip(rng.normal(0, rotation_sd_deg, 3), -MAX_ROTATION_DEG, MAX_ROTATION_DEG)
    return Motion(tuple(float(v) for v in rot), tuple(float(v) for v in shift),
                  tuple(float(v) for v in np.asarray(centre, float)))


def sampling_grid(grid: Grid, motion: Motion) -> Grid:
    """The grid, expressed in anatomy coordinates, that the scanner grid ``grid`` sees.

    Voxel p of the scanner grid shows anatomy at R^T (p - c - t) + c; a rigid map of a
    regular grid is again a regular grid, so sampling the phantom on this grid renders the
    moved patient while the series keeps ``grid`` as its header geometry.
    """
    r = motion.matrix
    c, t = np.asarray(motion.centre), np.asarray(motion.shift_mm)
    origin = (np.asarray(grid.origin) - c - t) @ r + c   # row-vector form of R^T (...)
    row = np.asarray(grid.row) @ r
    col = np.asarray(grid.col) @ r
    return Grid(shape=grid.shape, pixel_mm=grid.pixel_mm, slice_spacing_mm=grid.slice_spacing_mm,
                thickness_mm=grid.thickness_mm, origin=tuple(origin.tolist()),
                row=tuple(row.tolist()), col=tuple(col.tolist()))


def sample_moved(ph: Phantom, grid: Grid, motion: Motion | None, sub_inplane: int = 2,
                 sub_slice: int = 3) -> Sampled:
    """:func:`node.synthetic.render.sample` of the moved patient, labelled with ``grid``."""
    if motion is None:
        return sample(ph, grid, sub_inplane, sub_slice)
    moved = sample(ph, sampling_grid(grid, motion), sub_inplane, sub_slice)
    return Sampled(grid=grid, labels=moved.labels)
