"""Anatomy of one case: a body part built around the body axis (LPS z) with a fatty tumour.

Every structure is an analytic function of position, so any grid (axial, coronal, oblique,
thick or thin slices) samples the same patient, and the T1, STIR and post-contrast series of
a study agree voxel for voxel where their grids do. Layers from the surface inwards: skin,
subcutaneous fat (5-40 mm, varying around the circumference), deep fascia, muscle with
intermuscular septa and intramuscular fat streaks (more with age), bone (cortex, fatty
marrow), vessels; trunk and pelvis hold viscera (and a fluid-filled bladder).
Label priority (low to high): body layers < vessels < tumour < bone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numexpr as ne
import numpy as np

from node.synthetic.draws import CaseDraw
from node.synthetic.enums import Depth, Location, Sex, Tissue
from node.synthetic.grid import rotation
from node.synthetic.tumour import Tumour, design_tumour


@dataclass(frozen=True)
class Bone:
    x: float
    y: float
    radius: float
    cortex: float


@dataclass(frozen=True)
class Tube:
    x: float
    y: float
    radius: float
    tissue: Tissue
    drift: float = 0.0   # mm in x per mm of z


@dataclass(frozen=True)
class Body:
    ax: float                 # semi-axis along x (mm) at z = 0
    ay: float
    taper: float              # relative change of the semi-axes per 100 mm of z
    skin: float
    fat: float                # mean subcutaneous fat thickness
    fat_phase: float
    contour: tuple[float, float, float, float]  # amplitude/phase of the 2nd and 3rd harmonics
    bones: tuple[Bone, ...]
    tubes: tuple[Tube, ...]
    septa_angles: tuple[float, ...]
    inner: tuple[float, float, float] | None     # viscera ellipse (ax, ay, y offset) or None
    streak: tuple[float, ...]  # intramuscular fat streak field parameters
    streak_thr: float


@dataclass(frozen=True)
class Phantom:
    body: Body
    tumours: tuple[Tumour, ...]


_BASE = {  # ax, ay range (mm), fat range, bones, tubes
    Location.thigh: ((72, 92), (68, 88), (8, 30)),
    Location.arm: ((42, 55), (38, 50), (5, 20)),
    Location.trunk: ((150, 175), (100, 120), (10, 40)),
    Location.head_neck: ((55, 68), (50, 62), (5, 14)),
    Location.pelvis: ((165, 190), (115, 135), (15, 40)),
}


def _bones_and_tubes(loc: Location, rng: np.random.Generator, ax: float, ay: float,
                     lower_leg: bool) -> tuple[tuple[Bone, ...], tuple[Tube, ...], tuple | None]:
    j = lambda s: float(rng.uniform(-s, s))  # noqa: E731
    if loc is Location.thigh and lower_leg:
        bones = (Bone(j(5), -0.3 * ay + j(4), 13 + j(1.5), 4.0), Bone(0.45 * ax, 0.1 * ay, 7, 2.0))
        tubes = (Tube(-0.1 * ax, 0.15 * ay, 2.5, Tissue.vessel),
                 Tube(0.2 * ax, 0.25 * ay, 2.5, Tissue.vessel))
        return bones, tubes, None
    if loc is Location.thigh:
        bones = (Bone(j(6), j(6), 13.5 + j(1.5), 5.0),)
        tubes = (Tube(-0.35 * ax, -0.15 * ay, 3.5, Tissue.vessel, 0.04),
                 Tube(-0.3 * ax, -0.05 * ay, 4.5, Tissue.vessel, 0.04),
                 Tube(-0.1 * ax, 0.2 * ay, 2.5, Tissue.vessel))
        return bones, tubes, None
    if loc is Location.arm:
        bones = (Bone(j(4), j(4), 10 + j(1), 3.0),)
        tubes = (Tube(-0.45 * ax, 0.05 * ay, 2.5, Tissue.vessel),
                 Tube(-0.4 * ax, 0.15 * ay, 3.0, Tissue.vessel))
        return bones, tubes, None
    if loc is Location.head_neck:
        bones = (Bone(0, 0.35 * ay, 15, 3.0),)
        tubes = (Tube(0, -0.35 * ay, 8, Tissue.air), Tube(-0.45 * ax, -0.05 * ay, 3.5, Tissue.vessel),
                 Tube(0.45 * ax, -0.05 * ay, 3.5, Tissue.vessel),
                 Tube(-0.38 * ax, 0.02 * ay, 5, Tissue.vessel),
                 Tube(0.38 * ax, 0.02 * ay, 5, Tissue.vessel))
        return bones, tubes, None
    if loc is Location.trunk:
        inner = (ax - 40 - j(5), ay - 40 - j(5), 0.0)
        ribs = tuple(Bone(inner[0] * 1.02 * math.cos(a), inner[1] * 1.02 * math.sin(a), 6.0, 1.5)
                     for a in np.linspace(-2.6, -0.5, 5))
        bones = (Bone(0, ay - 45, 18, 3.0), *ribs)
        return bones, (Tube(0, ay - 75, 10, Tissue.vessel),), inner
    inner = (ax - 55, ay - 35, 0.0)  # pelvis
    bones = (Bone(-0.55 * ax, 0.1 * ay, 24, 3.0), Bone(0.55 * ax, 0.1 * ay, 24, 3.0),
             Bone(0, 0.75 * ay, 22, 3.0))
    tubes = (Tube(0, -0.25 * ay, 35 + j(8), Tissue.fluid), Tube(-0.35 * ax, -0.3 * ay, 4, Tissue.vessel),
             Tube(0.35 * ax, -0.3 * ay, 4, Tissue.vessel))
    return bones, tubes, inner


def build_phantom(case: CaseDraw, n_tumours: int = 1) -> Phantom:
    """The body part of ``case.location`` with ``n_tumours`` (0, 1 or 2) tumours placed in it.

    The body is enlarged when a deep tumour would not fit inside the muscle, as a large
    intramuscular mass does to a limb.
    """
    rng = np.random.default_rng([case.seed, 0xB0D1])
    (ax0, ax1), (ay0, ay1), (f0, f1) = _BASE[case.location]
    ax, ay = float(rng.uniform(ax0, ax1)), float(rng.uniform(ay0, ay1))
    fat = float(rng.uniform(f0, f1)) * (1.2 if case.sex is Sex.F else 1.0)
    lower_leg = case.location is Location.thigh and rng.random() < 0.3
    if lower_leg:
        ax, ay, fat = ax * 0.65, ay * 0.65, fat * 0.5
    tumour_rng = np.random.default_rng([case.seed, 0x7E0])
    r_major = case.diameter_mm / 2
    if case.depth is Depth.deep and case.location in (Location.thigh, Location.arm, Location.head_neck):
        need = (r_major * 1.25 + 10 + fat) / min(ax, ay)
        if need > 0.95:
            ax, ay = ax * need / 0.95, ay * need / 0.95
    bones, tubes, inner = _bones_and_tubes(case.location, rng, ax, ay, lower_leg)
    age_f = np.clip((case.age - 20) / 60, 0, 1)
    freqs = rng.uniform(0.25, 0.55, 6) * np.array([1, 1, 1, 1, 1.3, 1.3])
    body = Body(
        ax=ax, ay=ay, taper=float(rng.uniform(-0.06, 0.02)), skin=float(rng.uniform(1.2, 2.2)),
        fat=fat, fat_phase=float(rng.uniform(0, 2 * np.pi)),
        contour=(float(rng.uniform(0, 0.05)), float(rng.uniform(0, np.pi)),
                 float(rng.uniform(0, 0.03)), float(rng.uniform(0, np.pi))),
        bones=bones, tubes=tubes,
        septa_angles=tuple(float(a) for a in rng.uniform(
            0, 2 * np.pi, 3 if case.location is not Location.trunk else 2)),
        inner=inner, streak=tuple(float(v) for v in np.concatenate([freqs, rng.uniform(0, 2 * np.pi, 3)])),
        streak_thr=float(3.2 - 0.45 * age_f - rng.uniform(0, 0.25)),
    )
    tumours = []
    for t in range(n_tumours):
        draw = case if t == 0 else _second(case, tumour_rng)
        tumours.append(design_tumour(draw, body_surface(body), tumour_rng, index=t))
    return Phantom(body=body, tumours=tuple(tumours))


def _second(case: CaseDraw, rng: np.random.Generator) -> CaseDraw:
    from dataclasses import replace
    return replace(case, diameter_mm=case.diameter_mm * float(rng.uniform(0.3, 0.5)),
                   length_mm=case.length_mm * 0.4, depth=Depth.superficial)


def body_surface(body: Body):
    """Callable (theta) -> (radius to the skin, subcutaneous fat thickness) at z = 0."""
    def at(theta: float) -> tuple[float, float]:
        c = 1 + body.contour[0] * math.cos(2 * theta + body.contour[1]) \
            + body.contour[2] * math.cos(3 * theta + body.contour[3])
        r = c / math.sqrt((math.cos(theta) / body.ax) ** 2 + (math.sin(theta) / body.ay) ** 2)
        f = body.fat * (1 + 0.4 * math.cos(theta - body.fat_phase))
        return r, f
    return at


def label_points(ph: Phantom, p: np.ndarray) -> np.ndarray:
    """Tissue label (uint8) of LPS points ``p`` (..., 3).

    Speed matters (millions of points per series): angles use multiple-angle identities
    instead of arctan2/cos, and everything beyond the skin is evaluated on body points only.
    """
    b = ph.body
    shape = p.shape[:-1]
    p = p.reshape(-1, 3)
    x, y, z = (np.ascontiguousarray(p[:, i]) for i in range(3))
    a2, p2, a3, p3 = b.contour
    consts = {"k2c": a2 * math.cos(p2), "k2s": a2 * math.sin(p2), "k3c": a3 * math.cos(p3),
              "k3s": a3 * math.sin(p3), "iax": 1 / b.ax, "iay": 1 / b.ay, "tp": b.taper / 100}
    rad = ne.evaluate("sqrt(x * x + y * y) + 1e-6")
    # contour harmonics cos(n theta + phase) from c = x/r, s = y/r; rn = normalised radius
    d_body = ne.evaluate(
        "rad * ((1 + k2c * (2 * (x / rad) ** 2 - 1) - k2s * (2 * x * y / rad ** 2)"
        " + k3c * ((x / rad) * (4 * (x / rad) ** 2 - 3)) - k3s * ((y / rad) * (3 - 4 * (y / rad) ** 2)))"
        " / sqrt((x * iax / (1 + tp * z)) ** 2 + (y * iay / (1 + tp * z)) ** 2 + 1e-12) - 1)",
        local_dict={"x": x, "y": y, "z": z, "rad": rad, **consts}).astype(np.float32)
    c1, s1 = x / rad, y / rad
    lab = np.zeros(p.shape[0], dtype=np.uint8)
    d_surf = d_body
    tumour_d: list[np.ndarray] = []
    for t in ph.tumours:
        d_t = t.ray_distance(p)
        tumour_d.append(d_t)
        if t.superficial:  # smooth maximum: the skin drapes over the mass without a notch
            other = d_t + (b.skin + t.cover_mm)
            d_surf = (d_surf + other + np.sqrt((d_surf - other) ** 2 + 64.0)) / 2
    idx = np.flatnonzero(d_surf > 0)
    if idx.size == 0:
        return lab.reshape(shape)
    x, y, z, db, ds = x[idx], y[idx], z[idx], d_body[idx], d_surf[idx]
    fat_t = b.fat * (1 + 0.4 * (c1[idx] * math.cos(b.fat_phase) + s1[idx] * math.sin(b.fat_phase)))
    sub = np.full(idx.size, Tissue.skin, dtype=np.uint8)
    sub[ds > b.skin] = Tissue.subcut_fat
    sub[db > b.skin + fat_t] = Tissue.fascia
    muscle = db > b.skin + fat_t + 1.0
    mi = np.flatnonzero(muscle)
    f1, f2, f3, g1, g2, g3, q1, q2, q3 = b.streak
    xm, ym, zm = x[mi], y[mi], z[mi]
    h = ne.evaluate(  # the last term breaks the lattice
        "sin(f1 * xm + g1 * ym * 0.3 + 0.04 * zm + q1) + sin(f2 * ym + g2 * xm * 0.3 - 0.03 * zm + q2)"
        " + sin(f3 * (xm + ym) * 0.7 + g3 * 0.02 * zm + q3)"
        " + 0.9 * sin(0.061 * xm - 0.047 * ym + 0.01 * zm + q12)",
        local_dict={"xm": xm, "ym": ym, "zm": zm, "f1": f1, "f2": f2, "f3": f3, "g1": g1, "g2": g2,
                    "g3": g3, "q1": q1, "q2": q2, "q3": q3, "q12": q1 + q2})
    msub = np.where(h > b.streak_thr, np.uint8(Tissue.im_fat), np.uint8(Tissue.muscle))
    for a in b.septa_angles:
        ca, sa = math.cos(a), math.sin(a)
        msub[(xm * ca + ym * sa > 0) & (np.abs(ym * ca - xm * sa) < 0.6)] = Tissue.fascia
    sub[mi] = msub
    if b.inner is not None:
        iax, iay, iy = b.inner
        sub[(x / iax) ** 2 + ((y - iy) / iay) ** 2 < 1] = Tissue.viscera
    for tb in b.tubes:
        sub[((x - tb.x - tb.drift * z) ** 2 + (y - tb.y) ** 2 < tb.radius**2) & (db > 0)] = tb.tissue
    lab[idx] = sub
    for t, d_t in zip(ph.tumours, tumour_d, strict=True):
        t.paint(lab, p, d_t)
    for bn in b.bones:
        r2 = (x - bn.x) ** 2 + (y - bn.y) ** 2
        hit = r2 < bn.radius**2
        if hit.any():
            lab[idx[hit]] = np.where(r2[hit] < (bn.radius - bn.cortex) ** 2, np.uint8(Tissue.marrow),
                                     np.uint8(Tissue.cortex))
    return lab.reshape(shape)


def tumour_axes(t: Tumour) -> np.ndarray:
    """Rotation of the tumour frame (re-exported for meta and tests)."""
    return rotation(*t.angles_deg)
