"""Plan the T1 series of a case: plane, field of view, matrix, slab, obliquity, position.

The slab is planned as a technologist would: centred on the mass, covering it with a margin
(the paper excluded scans with the tumour incompletely imaged, so cohort cases always cover
it, unless ``QcCase.fov_cut`` asks for the defect). Limbs are imaged whole in-plane; trunk
and pelvis get a field of view centred on the mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from node.synthetic.anatomy import Phantom
from node.synthetic.draws import CaseDraw
from node.synthetic.enums import Location, Plane, QcCase
from node.synthetic.grid import Grid, make_grid
from node.synthetic.physics import Protocol, Sequence


@dataclass(frozen=True)
class Plan:
    grid: Grid
    feet_first: bool
    oblique_deg: tuple[float, float]


def _extent(ph: Phantom) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned LPS box (lo, hi) holding all tumours (or a 40 mm box at the origin)."""
    if not ph.tumours:
        return np.array([-20.0, -20, -20]), np.array([20.0, 20, 20])
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for t in ph.tumours:
        rot = t.rot.astype(float)
        half = np.abs(rot) @ (np.asarray(t.semi) * 1.1)
        lo = np.minimum(lo, np.asarray(t.centre) - half)
        hi = np.maximum(hi, np.asarray(t.centre) + half)
    return lo, hi


def _matrix(fov: float, pixel: float, max_matrix: int) -> int:
    n = round(fov / pixel / 16.0) * 16
    return int(np.clip(n, 128, max_matrix))


def plan_t1(case: CaseDraw, ph: Phantom, rng: np.random.Generator, qc: QcCase = QcCase.normal,
            max_matrix: int = 256, max_slices: int = 40, plane: Plane | None = None,
            matrix: int | None = None, min_slices: int = 20, feet_first: bool | None = None) -> Plan:
    """The T1 series grid of ``case`` (or of another series in ``plane``).

    ``matrix`` fixes rows = columns (a DICOM study); by default the matrix follows the case's
    pixel size up to ``max_matrix`` (cohorts).
    """
    plane = plane or case.plane
    lo, hi = _extent(ph)
    centre = (lo + hi) / 2
    limb = case.location in (Location.thigh, Location.arm, Location.head_neck)
    body_w = 2 * max(ph.body.ax, ph.body.ay) * 1.15
    if limb:  # the whole limb in-plane: centre the in-plane axes on the body, the slab on the mass
        if plane is Plane.axial:
            centre[:2] = 0.0
        else:
            centre[0 if plane is Plane.coronal else 1] = 0.0
        inplane = max(body_w, float(np.max(hi[:2] - lo[:2])) + 40)
    else:
        inplane = float(np.clip(max(hi[0] - lo[0], hi[1] - lo[1]) + 100, 220, 400))
    spacing = case.thickness_mm + case.gap_mm
    if plane is Plane.axial:
        cover = hi[2] - lo[2] + 30
        fov = (inplane, inplane)
    else:
        axis = 1 if plane is Plane.coronal else 0
        cover = hi[axis] - lo[axis] + 24
        fov = (max(hi[2] - lo[2] + 70, inplane * 0.8), inplane)
    thickness = case.thickness_mm
    n_sl = math.ceil(cover / spacing)
    if n_sl > max_slices:  # thicker slices before giving up coverage
        thickness = min(6.0, thickness * n_sl / max_slices)
        spacing = thickness + case.gap_mm
        n_sl = math.ceil(cover / spacing)
    n_sl = int(min(max(n_sl, min_slices), max_slices))
    if qc is QcCase.fov_cut:
        n_sl = 20
        cut_axis = 2 if plane is Plane.axial else (1 if plane is Plane.coronal else 0)
        mid, ext = (lo[cut_axis] + hi[cut_axis]) / 2, hi[cut_axis] - lo[cut_axis]
        centre[cut_axis] = mid - 0.2 * ext + (n_sl - 1) / 2 * spacing  # the slab starts inside the mass
    if matrix is not None:
        pixel = max(fov) / matrix
        rows = cols = matrix
    else:
        pixel = max(case.pixel_mm, max(fov) / max_matrix)
        rows, cols = _matrix(fov[0], pixel, max_matrix), _matrix(fov[1], pixel, max_matrix)
    fov = (rows * pixel, cols * pixel)
    oblique = (float(rng.uniform(-10, 10)), float(rng.uniform(-6, 6))) if rng.random() < 0.4 else (0.0, 0.0)
    drawn_ff = bool(case.location is Location.thigh and rng.random() < 0.6)
    feet_first = drawn_ff if feet_first is None else feet_first
    grid = make_grid(plane, centre, fov, (rows, cols), n_sl, thickness, case.gap_mm, oblique, feet_first)
    return Plan(grid=grid, feet_first=feet_first, oblique_deg=oblique)


def t1_protocol(rng: np.random.Generator) -> Protocol:
    """T1-weighted SE/TSE: short TR 400-800 ms, TE 8-20 ms, no fat saturation."""
    return Protocol(Sequence.spin_echo, tr=float(rng.uniform(400, 800)), te=float(rng.uniform(8, 20)),
                    echo_train=int(rng.choice([1, 3, 4, 5])))
