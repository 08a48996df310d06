"""The lipomatous tumour: a lobulated fatty mass with capsule, septa and (ALT) nodules.

Shape: an ellipsoid (semi-axes D/2, b D/2, L/2 in its own frame) whose surface radius is
modulated by a few low-frequency lobes, s(d) = 1 + sum a_m cos(w_m . d + phi_m). The inside
test uses the ray distance to that surface, which also gives the capsule (a rim of given
thickness) and the fat cover that pushes superficial tumours out of the body contour.
Septa are wavy sheets through the mass; ALT carries thick septa and globular non-fatty
nodules sized so the non-fat share approaches the design's (1 - fat fraction).

Internal appearance overlaps between the labels, as on real MRI (issue 16, "a harder twin for
radiomics"): ALT nodules are often hazy, fat-containing, so only part of a nodule is non-fatty
(``nodule_solid`` < 1, a speckle of fat mixed in below voxel scale, uneven across the nodule);
some lipomas carry non-fatty foci (fat necrosis, fibrosis, myxoid change) drawn like small
nodules; some lipomas have thick septa and some ALTs thin ones; tumour fat T1 is drawn
from one range for both labels. These draws come from their own random stream
(:func:`_appearance_rng`) and are applied after the geometry, so the tumour's outline, position
and the rest of the phantom stay exactly what they were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numexpr as ne
import numpy as np

from node.synthetic.draws import CaseDraw
from node.synthetic.enums import Depth, Label, Location, Tissue
from node.synthetic.grid import rotation


@dataclass(frozen=True)
class Septum:
    normal: tuple[float, float, float]  # in the tumour frame
    offset: float                       # mm along the normal
    amplitude: float                    # mm of waviness
    wave: tuple[float, float, float]    # rad/mm
    phase: float
    thickness: float


@dataclass(frozen=True)
class Nodule:
    centre: tuple[float, float, float]  # mm, tumour frame
    axes: tuple[float, float, float]    # semi-axes mm


@dataclass(frozen=True)
class Tumour:
    centre: tuple[float, float, float]   # LPS mm
    semi: tuple[float, float, float]     # semi-axes mm (tumour frame x, y, z)
    angles_deg: tuple[float, float, float]
    lobes: tuple[tuple[float, float, float, float, float], ...]  # (wx, wy, wz, amp, phase)
    capsule_mm: float
    septa: tuple[Septum, ...]
    nodules: tuple[Nodule, ...]
    superficial: bool
    cover_mm: float
    fat_t1_scale: float
    nodule_solid: float = 1.0            # non-fatty share inside a nodule (1 = solid)

    @property
    def rot(self) -> np.ndarray:
        return rotation(*self.angles_deg).astype(np.float32)

    def bbox_half(self) -> np.ndarray:
        lob = 1 + sum(abs(lb[3]) for lb in self.lobes)
        return np.asarray(self.semi) * lob + self.cover_mm + 4.0

    def ray_distance(self, p: np.ndarray) -> np.ndarray:
        """Ray distance (mm) to the tumour surface from its centre: > 0 inside. Points far outside
        the bounding box get -1e3 without evaluation."""
        out = np.full(p.shape[:-1], -1e3, dtype=np.float32)
        v = (p - np.asarray(self.centre, dtype=np.float32)) @ self.rot
        half = self.bbox_half()
        sel = np.all(np.abs(v) < half.astype(np.float32), axis=-1)
        if not sel.any():
            return out
        vs = v[sel]
        env = {"v0": np.ascontiguousarray(vs[:, 0]), "v1": np.ascontiguousarray(vs[:, 1]),
               "v2": np.ascontiguousarray(vs[:, 2]),
               "ia": 1 / self.semi[0], "ib": 1 / self.semi[1], "ic": 1 / self.semi[2]}
        q = ne.evaluate("sqrt((v0 * ia) ** 2 + (v1 * ib) ** 2 + (v2 * ic) ** 2) + 1e-6", local_dict=env)
        env["q"] = q
        # surface radius s(d) = 1 + sum amp cos(w . d + phase), d = u / q the unit direction
        terms = " + ".join(
            f"{amp!r} * cos(({wx!r} * v0 * ia + {wy!r} * v1 * ib + {wz!r} * v2 * ic) / q + {ph!r})"
            for wx, wy, wz, amp, ph in self.lobes) or "0"
        out[sel] = ne.evaluate(f"sqrt(v0 ** 2 + v1 ** 2 + v2 ** 2) * ((1 + {terms}) / q - 1)", local_dict=env)
        return out

    def paint(self, lab: np.ndarray, p: np.ndarray, d_t: np.ndarray) -> None:
        """Write tumour tissues into ``lab`` where ``d_t`` > 0."""
        inside = d_t > 0
        if not inside.any():
            return
        v = (p[inside] - np.asarray(self.centre, dtype=np.float32)) @ self.rot
        sub = np.full(v.shape[0], Tissue.tumour_fat, dtype=np.uint8)
        for sp in self.septa:
            g = v @ np.asarray(sp.normal, dtype=np.float32) - sp.offset \
                + sp.amplitude * np.sin(v @ np.asarray(sp.wave, dtype=np.float32) + sp.phase)
            sub[np.abs(g) < sp.thickness / 2] = Tissue.septum
        speck = _speckle(v) if self.nodule_solid < 1.0 else None
        for nd in self.nodules:
            rel = (v - np.asarray(nd.centre, dtype=np.float32)) / np.asarray(nd.axes, dtype=np.float32)
            r = (rel**2).sum(-1)
            inn = r < 1
            if speck is not None:  # hazy nodule: solid towards its centre, fatty speckle outward
                inn &= speck < self.nodule_solid * (1.3 - 0.6 * r)
            sub[inn] = Tissue.nodule
        sub[d_t[inside] < self.capsule_mm] = Tissue.capsule
        lab[inside] = sub


def _speckle(v: np.ndarray) -> np.ndarray:
    """A deterministic uniform [0, 1) value per point (hash of its tumour-frame position at
    0.1 mm), so a point gets the same tissue however the grid is chunked or sampled."""
    q = np.floor(v * 10.0).astype(np.int64)
    h = (q[:, 0] * 73856093) ^ (q[:, 1] * 19349663) ^ (q[:, 2] * 83492791)
    h = (h ^ (h >> 13)) * 1274126177
    return ((h ^ (h >> 16)) & 0xFFFF).astype(np.float32) / 65536.0


def _appearance_rng(case: CaseDraw, index: int) -> np.random.Generator:
    """Stream of the appearance draws, separate from the geometry's (see module docstring)."""
    return np.random.default_rng([case.seed, 0xA99E, index])


# Appearance overlap (issue 16): shares and ranges set so that truth-mask radiomics moves towards
# the paper's external/prospective AUC 0.74-0.89. Tuned on the prospective profile only, in
# one step: a first setting (hazy ALT 60 %, solid 0.30-0.80; lipoma foci 35 %, 1-8 % of the
# volume; thick lipoma septa 30 %) left a quick 60-workflow model at AUC 0.95 there.
LIPOMA_FOCI_SHARE = 0.50        # lipomas with non-fatty foci
LIPOMA_FOCI_VOLUME = (0.02, 0.18)  # their share of the tumour volume
LIPOMA_THICK_SEPTA_SHARE = 0.40
ALT_HAZY_SHARE = 0.75           # ALTs whose nodules are partly fatty
ALT_NODULE_SOLID = (0.20, 0.70)
FOCI_SOLID = (0.35, 0.90)
ALT_THIN_SEPTA_SHARE = 0.35


def _appearance(case: CaseDraw, index: int, semi: np.ndarray, septa: list[Septum],
                nodules: list[Nodule]) -> tuple[list[Septum], list[Nodule], float]:
    """Septa, nodules and the nodule solid share after the label-overlapping appearance draws."""
    rng = _appearance_rng(case, index)
    u_septa, u_nod, f_septa, solid_draw = rng.random(), rng.random(), rng.uniform(), rng.random()
    solid = 1.0
    if case.label is Label.ALT:
        if u_septa < ALT_THIN_SEPTA_SHARE:
            septa = [replace(sp, thickness=sp.thickness * (0.45 + 0.35 * f_septa)) for sp in septa]
        if u_nod < ALT_HAZY_SHARE:
            solid = ALT_NODULE_SOLID[0] + solid_draw * (ALT_NODULE_SOLID[1] - ALT_NODULE_SOLID[0])
        return septa, nodules, solid
    if u_septa < LIPOMA_THICK_SEPTA_SHARE:
        septa = [replace(sp, thickness=max(sp.thickness, 1.0) * (1.4 + 0.9 * f_septa))
                 for sp in septa]
    if u_nod < LIPOMA_FOCI_SHARE:
        a, b, c = (float(v) for v in semi)
        vol = 4 / 3 * math.pi * a * b * c * float(rng.uniform(*LIPOMA_FOCI_VOLUME))
        k = int(rng.integers(1, 4))
        nodules = [*nodules, *_place_nodules(rng, k, vol, semi)]
        solid = FOCI_SOLID[0] + solid_draw * (FOCI_SOLID[1] - FOCI_SOLID[0])
    return septa, nodules, solid


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)



def _place_nodules(rng: np.random.Generator, k: int, volume: float, semi: np.ndarray) -> list[Nodule]:
    """``k`` ellipsoidal nodules sharing ``volume`` (Dirichlet split), each mildly stretched and
    placed inside the inner 55 % of the tumour."""
    out = []
    for w in rng.dirichlet(np.ones(k)):
        r = (3 * w * volume / (4 * math.pi)) ** (1 / 3)
        stretch = rng.uniform(0.75, 1.3, 3)
        stretch /= np.prod(stretch) ** (1 / 3)
        cen = _unit(rng) * float(rng.uniform(0, 0.55)) * semi
        out.append(Nodule(tuple(float(v) for v in cen), tuple(float(v) for v in r * stretch)))
    return out

def design_tumour(case: CaseDraw, surface, rng: np.random.Generator, index: int = 0) -> Tumour:
    """Place and build the tumour of ``case``; ``surface(theta)`` gives (skin radius, fat)."""
    a, b, c = case.diameter_mm / 2, case.minor_ratio * case.diameter_mm / 2, case.length_mm / 2
    theta = float(rng.uniform(0, 2 * np.pi))
    r_skin, fat = surface(theta)
    skin = 1.7
    superficial = case.depth is Depth.superficial
    if superficial:
        spin = math.degrees(theta) + 90.0  # major axis tangential, minor axis radial
        dist = r_skin - skin - fat + b * float(rng.uniform(0.8, 1.0))
    else:
        spin = float(rng.uniform(0, 360))
        r_m = r_skin - skin - fat - 1
        if case.location in (Location.trunk, Location.pelvis):
            dist = r_m - b * float(rng.uniform(0.6, 0.95))
        else:
            dist = max(0.0, min(float(rng.uniform(0.25, 0.55)) * r_m, r_m - 1.1 * a - 3))
    z0 = 0.0 if index == 0 else float(rng.choice([-1, 1]) * (c + 25))
    centre = (dist * math.cos(theta), dist * math.sin(theta), z0)
    angles = (float(rng.uniform(-8, 8)), float(rng.uniform(-8, 8)), spin)
    n_lobes = 5
    lobes = []
    for _ in range(n_lobes):
        w = _unit(rng) * float(rng.uniform(2.0, 4.5))
        lobes.append((float(w[0]), float(w[1]), float(w[2]),
                      case.lobulation * float(rng.uniform(0.4, 1.0)) / math.sqrt(n_lobes) * 1.6,
                      float(rng.uniform(0, 2 * np.pi))))
    alt = case.label is Label.ALT
    capsule = float(rng.uniform(0.5, 1.0)) if (not alt or rng.random() < 0.5) else 0.0
    semi = np.array([a, b, c])
    septa = []
    for _ in range(case.n_septa):
        n = _unit(rng)
        extent = float(np.sqrt(((n * semi) ** 2).sum()))
        septa.append(Septum(
            normal=tuple(float(v) for v in n), offset=float(rng.uniform(-0.6, 0.6) * extent),
            amplitude=float(rng.uniform(1, 6)),
            wave=tuple(float(v) for v in _unit(rng) * 2 * np.pi / rng.uniform(25, 70)),
            phase=float(rng.uniform(0, 2 * np.pi)),
            thickness=case.septum_mm * float(rng.uniform(0.75, 1.25)),
        ))
    volume = 4 / 3 * math.pi * a * b * c
    s1, s2 = sorted(semi)[1:]
    septa_vol = sum(0.55 * math.pi * s1 * s2 * sp.thickness for sp in septa)
    area = 4 * math.pi * (((a * b) ** 1.6 + (a * c) ** 1.6 + (b * c) ** 1.6) / 3) ** (1 / 1.6)
    nodule_vol = max(0.0, (1 - case.fat_fraction) * volume - septa_vol - area * capsule)
    nodules = []
    if alt and nodule_vol > 0.01 * volume:
        k = int(rng.integers(1, 5))
        nodules.extend(_place_nodules(rng, k, nodule_vol, semi))
    rng.uniform()  # was a label-dependent fat T1 draw; kept so the geometry stream is unchanged
    cover = float(rng.uniform(1.5, 5.0))
    septa, nodules, solid = _appearance(case, index, semi, septa, nodules)
    t1_scale = float(_appearance_rng(case, index + 100).uniform(0.97, 1.10))
    return Tumour(centre=centre, semi=(a, b, c), angles_deg=angles, lobes=tuple(lobes),
                  capsule_mm=capsule, septa=tuple(septa), nodules=tuple(nodules),
                  superficial=superficial, cover_mm=cover, fat_t1_scale=t1_scale,
                  nodule_solid=solid)
