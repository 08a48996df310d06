"""Random body label maps with tumours for segmentation training (issue 14, SynthSeg-style).

The twin's anatomy (:mod:`node.synthetic.anatomy`) is a round tube; a network trained on it took
subcutaneous and intermuscular fat for tumour on independently made studies. These label maps
give the network what real limbs and trunks have: an irregular, asymmetric outline; skin;
subcutaneous fat whose thickness varies around the circumference and along the axis (thin to
very thick); the deep fascia; muscle compartments of irregular shape separated by fascia and by
intermuscular fat planes of varying width; intramuscular fat streaks; bones with cortex and
marrow (off-centre; two for the calf, humeral head and scapula for the shoulder); neurovascular
bundles in a fat sheath inside the fat planes; for back and buttock a muscle band over a crude
cavity (viscera) rimmed by ribs or pelvic bone and the spine. Tumours are superficial (in the
subcutaneous fat, bulging the skin, often abutting skin or fascia), intermuscular (spreading
along the fat planes) or deep (inside a compartment), 2-1500 ml with small and superficial ones
oversampled, multilobulated, with a thin (sometimes partial or absent) capsule, septa and
occasional non-fatty nodules.

How it is built (and why it is not :mod:`node.holdout`, which is evaluation only and never
imported here): everything is a level set of a few smooth random 2-D fields on the image grid,
blended along the limb axis by a slowly rotating pair of key fields, so z variation is smooth
and each sub-slice costs a handful of array operations. The outline is a depth-below-skin field
(an ellipse's polar radius times a smooth random factor, plus tumour bulges); layers are depth
bands; compartments are the arg-max of noisy, multiplicatively weighted distances to seeds
placed around the bone, and the gap between the best and second-best score (in mm) draws the
fascia and the fat planes. The tumour is a union of warped ellipsoid lobes whose threshold is
chosen by quantile inside the tissue it may occupy, so its volume is what was asked for.

Output: labels supersampled along z, ``(slices, points, rows, cols)`` uint8 in
:class:`node.synthetic.enums.Tissue`, and the tumour mask ``(slices, rows, cols)`` (a voxel is
tumour when most of its points are), ready for :func:`node.synthetic.randomise.randomise`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from node.synthetic.enums import TUMOUR_TISSUES, Tissue

GENERATOR = "lipo-synth-labelmaps 1.0"
REGIONS = ("thigh", "upper_arm", "calf", "shoulder", "back", "buttock")
DEPTHS = ("superficial", "intermuscular", "deep")
PLANES = ("axial", "coronal", "sagittal")
TRUNK = ("back", "buttock")
_T = Tissue
_TUMOUR_CODES = np.array([int(t) for t in TUMOUR_TISSUES], np.uint8)


@dataclass(frozen=True)
class RegionSpec:
    """Per-region proportions in mm (ranges drawn uniformly)."""

    half_width: tuple[float, float]      # left-right semi-axis of the outline
    aspect: tuple[float, float]          # antero-posterior / left-right
    fat: tuple[float, float]             # mean subcutaneous fat thickness
    compartments: tuple[int, int]
    max_ml: float                        # largest tumour the region holds
    superficial_max_ml: float


SPECS: dict[str, RegionSpec] = {
    "thigh": RegionSpec((62, 100), (0.85, 1.1), (4, 40), (5, 8), 1500, 600),
    "upper_arm": RegionSpec((36, 56), (0.85, 1.15), (3, 22), (3, 5), 500, 250),
    "calf": RegionSpec((44, 66), (0.8, 1.05), (3, 18), (4, 7), 600, 250),
    "shoulder": RegionSpec((62, 92), (0.8, 1.05), (4, 22), (4, 7), 900, 400),
    "back": RegionSpec((150, 195), (0.62, 0.78), (5, 45), (4, 7), 1500, 900),
    "buttock": RegionSpec((150, 200), (0.62, 0.8), (12, 60), (3, 6), 1500, 900),
}


@dataclass(frozen=True)
class LabelMap:
    """One case: supersampled labels, tumour mask and spacing (z, y, x in mm)."""

    labels: np.ndarray
    mask: np.ndarray
    spacing: tuple[float, float, float]
    meta: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ fields

def _noise2d(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Smooth unit-variance noise; made at low resolution and zoomed (cheap for wide sigmas)."""
    step = max(1, int(sigma_px / 3))
    small = (shape[0] // step + 3, shape[1] // step + 3)
    n = ndimage.gaussian_filter(rng.standard_normal(small).astype(np.float32), sigma_px / step, mode="wrap")
    if step > 1:
        n = ndimage.zoom(n, step, order=1)
    n = n[: shape[0], : shape[1]]
    return ((n - n.mean()) / max(float(n.std()), 1e-6)).astype(np.float32)


class _ZField:
    """A smooth 3-D field: two key 2-D fields blended by an angle that turns along z."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int], sigma_px: float,
                 period_mm: tuple[float, float] = (150, 600)) -> None:
        self.a = _noise2d(rng, shape, sigma_px)
        self.b = _noise2d(rng, shape, sigma_px)
        self.phase = float(rng.uniform(0, 2 * math.pi))
        self.rate = float(rng.choice([-1, 1]) * 2 * math.pi / rng.uniform(*period_mm))

    def at(self, z: float) -> np.ndarray:
        t = self.phase + self.rate * z
        return math.cos(t) * self.a + math.sin(t) * self.b


def _smooth1d(rng: np.random.Generator, amp: float, period: tuple[float, float] = (150, 500)):
    """A random smooth function of z (mm) for drifts of centres along the axis."""
    p1, p2 = rng.uniform(0, 2 * math.pi, 2)
    l1, l2 = rng.uniform(*period, 2)
    a1, a2 = rng.uniform(-1, 1, 2) * amp
    p1, p2, l1, l2, a1, a2 = (float(v) for v in (p1, p2, l1, l2, a1, a2))
    return lambda z: a1 * math.sin(2 * math.pi * z / l1 + p1) + a2 * math.sin(2 * math.pi * z / l2 + p2)


# ------------------------------------------------------------------------------------------- draws

@dataclass
class _Bone:
    cy: float
    cx: float
    ry: float
    rx: float
    angle: float
    cortex: float
    drift: object  # z -> (dy, dx)


@dataclass
class _Body:
    region: str
    a: float
    b: float
    cy: float
    cx: float
    skin: float
    fascia: float
    fat_mean: float
    fat_sd: float
    outline_sd: float
    seeds: np.ndarray        # (k, 2) y, x in mm
    weights: np.ndarray      # (k,)
    warp_mm: float
    plane_mean: float        # intermuscular fat plane width
    streak: float            # intramuscular fat streak half-width in noise units
    bones: list[_Bone]
    bundles: list[tuple[float, float, float]]   # y, x, vessel radius
    sc_veins: list[tuple[float, float, float]]
    band: float = 0.0        # trunk: muscle band depth (mm below fascia), 0 for limbs
    ribs: int = 0
    drift: object = None


def _draw_body(rng: np.random.Generator, region: str) -> _Body:
    s = SPECS[region]
    a = float(rng.uniform(*s.half_width))
    b = a * float(rng.uniform(*s.aspect))
    fat_mean = float(np.exp(rng.uniform(np.log(s.fat[0]), np.log(s.fat[1]))))
    trunk = region in TRUNK
    cy, cx = (-(b - rng.uniform(70, 110)), rng.uniform(-40, 40)) if trunk else tuple(rng.uniform(-12, 12, 2))
    cy, cx = float(cy), float(cx)
    bones: list[_Bone] = []

    def bone(oy: float, ox: float, r: float, ecc: float, cortex: float) -> None:
        bones.append(_Bone(cy + oy, cx + ox, r * ecc, r / ecc, float(rng.uniform(0, math.pi)), cortex,
                           _pair(rng, 4)))

    u = rng.uniform
    if region == "thigh":   # femur, often posteromedial
        bone(u(-0.1, 0.25) * b, u(-0.25, 0.25) * a, u(11, 16), u(0.9, 1.15), u(3, 7))
    elif region == "upper_arm":
        bone(u(-0.2, 0.2) * b, u(-0.2, 0.2) * a, u(8, 12), u(0.9, 1.15), u(2.5, 5))
    elif region == "calf":   # tibia anteromedial, fibula posterolateral
        bone(-u(0.3, 0.5) * b, u(-0.25, 0.05) * a, u(11, 15), u(0.8, 1.2), u(3, 6))
        bone(-u(-0.1, 0.15) * b, u(0.3, 0.5) * a, u(5, 8), u(0.8, 1.2), u(1.5, 3))
    elif region == "shoulder":   # humeral head and a plate-like scapula behind it
        bone(-u(0, 0.3) * b, u(-0.35, 0.05) * a, u(19, 27), u(0.9, 1.1), u(1.5, 3))
        bones.append(_Bone(cy + u(0.45, 0.6) * b, cx + u(0.0, 0.3) * a, u(4, 7), u(25, 45),
                           float(u(-0.5, 0.5)), u(1.5, 2.5), _pair(rng, 4)))
    k = int(rng.integers(s.compartments[0], s.compartments[1] + 1))
    band = float(rng.uniform(40, 85)) if trunk else 0.0
    if trunk:   # seeds in the posterior muscle band
        th = math.pi / 2 + np.linspace(-1.2, 1.2, k) + rng.uniform(-0.25, 0.25, k) * 2.4 / k
        rr = 1 - (fat_mean + band * rng.uniform(0.3, 0.7, k)) / b
        seeds = np.stack([cy + b * rr * np.sin(th), cx + a * rr * np.cos(th)], 1)
    else:   # spread around the bone: evenly spaced angles, jittered (no two seeds on top of each other)
        th = rng.uniform(0, 2 * math.pi) + (np.arange(k) + rng.uniform(-0.15, 0.15, k)) * 2 * math.pi / k
        rr = rng.uniform(0.3, 0.65, k)
        c0 = np.array([bones[0].cy, bones[0].cx])
        seeds = np.stack([c0[0] + b * rr * np.sin(th), c0[1] + a * rr * np.cos(th)], 1)
    body = _Body(region=region, a=a, b=b, cy=float(cy), cx=float(cx), skin=float(rng.uniform(1.2, 2.6)),
                 fascia=float(rng.uniform(0.7, 1.6)), fat_mean=fat_mean, fat_sd=float(rng.uniform(0.2, 0.6)),
                 outline_sd=float(rng.uniform(0.02, 0.07)), seeds=seeds,
                 weights=rng.uniform(0.75, 1.3, k).astype(np.float32), warp_mm=float(rng.uniform(4, 14)),
                 plane_mean=float(rng.uniform(0.3, 5)),
                 streak=float(rng.choice([0.0, rng.uniform(0.01, 0.07)], p=[0.3, 0.7])),
                 bones=bones, bundles=[], sc_veins=[], band=band,
                 ribs=int(rng.integers(9, 14)) if region == "back" else 0, drift=_pair(rng, 10))
    return body


def _shift(body: _Body, dy: float) -> None:
    body.cy += dy
    body.seeds = body.seeds + np.array([dy, 0.0])
    for bone in body.bones:
        bone.cy += dy


def _wrap(a: np.ndarray | float) -> np.ndarray:
    """Angle difference wrapped to [-pi, pi)."""
    return (a + math.pi) % (2 * math.pi) - math.pi


def _pair(rng: np.random.Generator, amp: float):
    fy, fx = _smooth1d(rng, amp), _smooth1d(rng, amp)
    return lambda z: (fy(z), fx(z))


# ------------------------------------------------------------------------------------------- grid

@dataclass(frozen=True)
class _Grid:
    slices: int
    points: int
    rows: int
    cols: int
    dz: float       # slice thickness = spacing
    dxy: float

    def sub_z(self) -> np.ndarray:
        k = np.arange(self.slices)[:, None] + (np.arange(self.points)[None, :] + 0.5) / self.points - 0.5
        return ((k - (self.slices - 1) / 2) * self.dz).ravel()

    @property
    def sub_ml(self) -> float:
        return self.dxy * self.dxy * self.dz / self.points / 1000.0


def _draw_grid(rng: np.random.Generator, region: str, body: _Body, max_matrix: int, bulge: float,
               z_need: float) -> _Grid:
    """In-plane 0.6-1.2 mm, 3-7 mm slices, 20-48 of them; the slab made long enough for the
    tumour where 48 x 7 mm allows (a radiologist covers the mass), so few are cut by it."""
    dxy = float(rng.uniform(0.6, 1.2))
    extent = 2 * max(body.a, body.b) * 1.12 + 10 + 2 * bulge
    if region in TRUNK:
        extent = float(rng.uniform(240, 330))
    n = int(min(max_matrix, max(96, math.ceil(extent / dxy))))
    n -= n % 2
    if n * dxy < extent and region not in TRUNK:
        dxy = min(1.2, extent / n)   # beyond that the body runs out of the FOV (partial FOV)
    rows = n if rng.random() < 0.6 else int(n * rng.uniform(0.75, 1.0)) // 2 * 2
    slices, points, dz = int(rng.integers(20, 49)), int(rng.integers(3, 5)), float(rng.uniform(3, 7))
    if slices * dz < z_need:
        slices = min(48, math.ceil(z_need / dz))
        dz = max(dz, min(7.0, z_need / slices))
    return _Grid(slices, points, rows, n, dz, dxy)


# ------------------------------------------------------------------------------------------ anatomy

class _Anatomy:
    """Evaluates the body's labels on one sub-slice at a time (pure in z)."""

    def __init__(self, rng: np.random.Generator, body: _Body, grid: _Grid) -> None:
        self.body, self.grid = body, grid
        shape = (grid.rows, grid.cols)
        px = grid.dxy
        self.y = ((np.arange(grid.rows) - (grid.rows - 1) / 2) * px).astype(np.float32)[:, None]
        self.x = ((np.arange(grid.cols) - (grid.cols - 1) / 2) * px).astype(np.float32)[None, :]
        self.f_outline = _ZField(rng, shape, 35 / px)
        self.f_fat = _ZField(rng, shape, rng.uniform(18, 45) / px)
        self.f_plane = _ZField(rng, shape, 15 / px)
        self.f_warp = [_ZField(rng, shape, rng.uniform(10, 25) / px) for _ in range(len(body.seeds))]
        self.f_streak = _ZField(rng, shape, rng.uniform(2.0, 4.0) / px, (60, 200))
        self.f_band = _ZField(rng, shape, 30 / px)
        # lobes added to the outline (asymmetry: a muscle belly, a fat pad) and tumour bulges
        n_lobe = int(rng.integers(1, 4))
        self.lobes = [(float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.3, 0.9)),
                       float(rng.uniform(0.04, 0.14))) for _ in range(n_lobe)]
        self.bulges: list[tuple[float, float, float, float, float]] = []  # theta, z, s_half, z_half, height
        self.fat_bumps: list[tuple[float, float, float, float, float]] = []

    # polar geometry around the (drifting) body centre
    def polar(self, z: float) -> tuple[np.ndarray, np.ndarray, float, float]:
        dy, dx = self.body.drift(z)
        cy, cx = self.body.cy + dy, self.body.cx + dx
        yy, xx = self.y - cy, self.x - cx
        return np.hypot(yy, xx), np.arctan2(yy, xx), cy, cx

    def outline_radius(self, th: np.ndarray, z: float) -> np.ndarray:
        b = self.body
        r_ell = b.a * b.b / np.sqrt((b.b * np.cos(th)) ** 2 + (b.a * np.sin(th)) ** 2)
        f = 1 + b.outline_sd * self.f_outline.at(z)
        for t0, width, h in self.lobes:
            f = f + h * np.exp(-((_wrap(th - t0)) / width) ** 2)
        return r_ell * f

    def fat_thickness(self, z: float) -> np.ndarray:
        b = self.body
        return np.clip(b.fat_mean * np.exp(b.fat_sd * self.f_fat.at(z)), 1.0, 120.0)

    def bulge(self, r_out: np.ndarray, th: np.ndarray, z: float) -> np.ndarray:
        """Extra skin height over superficial tumours: an ellipsoidal dome in (arc, z)."""
        out = np.zeros_like(r_out)
        for t0, z0, s_half, z_half, h in self.bulges:
            arc = _wrap(th - t0) * r_out
            q = 1 - (arc / s_half) ** 2 - ((z - z0) / z_half) ** 2
            out += h * np.sqrt(np.clip(q, 0, None))
        return out

    def slice(self, z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Labels, depth below skin (mm), fascia depth (mm) and compartment margin (mm) at z."""
        b, g = self.body, self.grid
        r, th, _, _ = self.polar(z)
        r_out = self.outline_radius(th, z)
        fat = self.fat_thickness(z)
        bump = self.bulge(r_out, th, z)
        depth = (r_out + bump) - r
        deep = b.skin + fat + bump                           # depth of the deep fascia
        fascia = max(b.fascia, g.dxy)                        # at least a pixel: never skipped
        lab = np.full((g.rows, g.cols), int(_T.muscle), np.uint8)
        lab[depth < deep + fascia] = _T.fascia
        lab[depth < deep] = _T.subcut_fat
        lab[depth < b.skin] = _T.skin
        lab[depth < 0] = _T.air
        inner = depth >= deep + fascia
        # a closed 1-pixel fascia ring too: where fat thickness changes fast the band alone can
        # thin below a pixel, and fat would touch muscle with no fascia between
        lab[ndimage.binary_dilation(inner) & ~inner & (depth >= b.skin)] = _T.fascia
        # compartments: arg-max of noisy weighted distances to seeds; the top-2 gap draws planes
        dy, dx = b.drift(z)
        best = np.full(lab.shape, -1e9, np.float32)
        second = np.full(lab.shape, -1e9, np.float32)
        for (sy, sx), w, fw in zip(b.seeds.tolist(), b.weights.tolist(), self.f_warp, strict=True):
            sc = np.hypot(self.y - (sy + dy), self.x - (sx + dx))
            sc *= -w
            sc += b.warp_mm * fw.at(z)
            second = np.maximum(second, np.minimum(best, sc))
            best = np.maximum(best, sc)
        gap = best - second
        gy, gx = np.gradient(gap, self.grid.dxy)
        margin = gap / np.maximum(np.hypot(gy, gx), 0.6)   # ~ distance (mm) to the nearest boundary
        plane = b.plane_mean * np.clip(1 + 0.7 * self.f_plane.at(z), 0, 2.2)
        planes = inner & (margin < plane / 2 + fascia)
        if b.band:   # trunk: muscle band over a cavity; compartments only in the band
            band = b.band * np.clip(0.35 + 0.65 * np.sin(th) + 0.15 * self.f_band.at(z), 0.2, None)
            cavity = inner & (depth >= deep + fascia + band)
            planes &= ~cavity
        lab[planes] = _T.fascia
        lab[inner & (margin < plane / 2)] = _T.im_fat
        if b.streak:
            st = inner & (np.abs(self.f_streak.at(z)) < b.streak) & (lab == _T.muscle)
            lab[st] = _T.im_fat
        if b.band:
            self._trunk(lab, cavity, depth, deep + fascia + band, r, th, z)
        for y0, x0, rv in b.bundles:   # small structures: work in a window around them
            w = self._win(y0 + dy, x0 + dx, rv * 3)
            yy, xx, lw, iw = self.y[w[0]] - (y0 + dy), self.x[:, w[1]] - (x0 + dx), lab[w], inner[w]
            lw[iw & (np.hypot(yy, xx) < rv * 2.6)] = _T.im_fat
            lw[iw & (np.hypot(yy - rv * 1.1, xx) < rv)] = _T.vessel
            lw[iw & (np.hypot(yy + rv, xx - rv * 0.4) < rv * 0.8)] = _T.vessel
        for y0, x0, rv in b.sc_veins:
            w = self._win(y0 + dy, x0 + dx, rv)
            lw = lab[w]
            near = np.hypot(self.y[w[0]] - (y0 + dy), self.x[:, w[1]] - (x0 + dx)) < rv
            lw[near & (lw == _T.subcut_fat)] = _T.vessel
        for bone in b.bones:
            by, bx = bone.drift(z)
            y0, x0 = bone.cy + dy + by, bone.cx + dx + bx
            w = self._win(y0, x0, max(bone.ry, bone.rx))
            yy, xx, lw = self.y[w[0]] - y0, self.x[:, w[1]] - x0, lab[w]
            c, s = math.cos(bone.angle), math.sin(bone.angle)
            u, v = c * yy + s * xx, -s * yy + c * xx
            q = np.sqrt((u / bone.ry) ** 2 + (v / bone.rx) ** 2)
            rad = min(bone.ry, bone.rx)
            lw[q < 1] = _T.cortex
            lw[q < 1 - bone.cortex / rad] = _T.marrow
        return lab, depth, deep + fascia, margin

    def _win(self, y0: float, x0: float, rad: float) -> tuple[slice, slice]:
        """Rows and columns of the square window of half-size ``rad`` mm around (y0, x0)."""
        g = self.grid
        cy, cx = y0 / g.dxy + (g.rows - 1) / 2, x0 / g.dxy + (g.cols - 1) / 2
        k = rad / g.dxy + 2
        return (slice(int(np.clip(cy - k, 0, g.rows)), int(np.clip(cy + k + 1, 0, g.rows))),
                slice(int(np.clip(cx - k, 0, g.cols)), int(np.clip(cx + k + 1, 0, g.cols))))

    def _trunk(self, lab: np.ndarray, cavity: np.ndarray, depth: np.ndarray, cav_depth: np.ndarray,
               r: np.ndarray, th: np.ndarray, z: float) -> None:
        b = self.body
        lab[cavity] = _T.viscera
        rim = cavity & (depth < cav_depth + 10)
        post = _wrap(th - math.pi / 2)
        if b.region == "back":
            ribs = rim & (np.sin(th * b.ribs * 2.2 + z / 9.0) > 0.25) & (np.abs(post) > 0.35)
        else:   # buttock: iliac wings laterally, sacrum behind
            ribs = rim & (np.abs(np.abs(post) - 0.9) < 0.45)
        lab[ribs] = _T.cortex
        lab[ribs & (depth > cav_depth + 2.5) & (depth < cav_depth + 7.5)] = _T.marrow
        # vertebral body / sacrum in the posterior midline just inside the cavity, spinous process behind
        vb = cavity & (np.abs(post) * r < 22) & (depth < cav_depth + 38)
        lab[vb] = _T.cortex
        lab[vb & (depth > cav_depth + 3) & (np.abs(post) * r < 19)] = _T.marrow
        if b.region == "back":
            sp = (np.abs(post) * r < 4) & (depth > cav_depth - b.band * 0.8) & ~cavity & (lab != _T.air)
            lab[sp & (depth > b.skin + 1)] = _T.cortex


# ------------------------------------------------------------------------------------------- tumour

@dataclass
class _Tumour:
    depth: str
    volume_ml: float
    centre: tuple[float, float, float]   # z, y, x mm
    lobes: list[tuple[np.ndarray, np.ndarray]]  # centre (3,), inverse axes matrix (3, 3)
    extent: float                         # bounding radius mm
    capsule: str
    septa: int
    septum_width: float
    nodules: int
    compartment: int = -1


def _draw_volume(rng: np.random.Generator, spec: RegionSpec, depth: str) -> float:
    cap = spec.superficial_max_ml if depth == "superficial" else spec.max_ml
    u = rng.random()
    lo, hi = (2, 20) if u < 0.45 else ((20, 200) if u < 0.8 else (200, 1500))
    hi = min(hi, cap)
    lo = min(lo, hi * 0.5)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _lobes(rng: np.random.Generator, volume_ml: float, axes_ratio: tuple[float, float, float],
           frame: np.ndarray, flat: bool = False) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """Union of 1-5 ellipsoids whose total is about ``volume_ml``; axes in the local frame."""
    n = int(rng.choice([1, 2, 3, 4, 5], p=[0.3, 0.25, 0.2, 0.15, 0.1]))
    share = rng.dirichlet(np.full(n, 2.0))
    share[0] += 0.5
    share /= share.sum()
    out, ext = [], 0.0
    vol0 = volume_ml * 1000 * (1.0 + 0.15 * (n - 1))
    r0 = None
    for i in range(n):
        ax = np.array(axes_ratio) * rng.uniform(0.8, 1.25, 3)
        scale = (3 * vol0 * share[i] / (4 * math.pi * np.prod(ax))) ** (1 / 3)
        ax = ax * scale
        if i == 0:
            c = np.zeros(3)
            r0 = ax
        else:
            d = rng.normal(0, 1, 3)
            if flat:   # superficial: lobes side by side in the fat layer, not on top of each other
                d[1] *= 0.15
            d /= np.linalg.norm(d)
            c = d * r0 * rng.uniform(0.5, 0.9)
        rot = frame @ _rot(rng, 0.4)
        inv = np.diag(1 / ax) @ rot.T   # world offset -> unit-sphere coords
        out.append(((c @ frame.T).astype(np.float32), inv.astype(np.float32)))
        ext = max(ext, float(np.linalg.norm(c) + ax.max()))
    return out, ext


def _rot(rng: np.random.Generator, amount: float) -> np.ndarray:
    a, b, c = rng.normal(0, amount, 3)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def _frame(theta: float) -> np.ndarray:
    """Columns: z axis, radial, tangential directions in (z, y, x) world coordinates."""
    return np.array([[1, 0, 0], [0, math.sin(theta), math.cos(theta)],
                     [0, -math.cos(theta), math.sin(theta)]]).T


# --------------------------------------------------------------------------------------------- case

def draw_labelmap(seed: int | np.random.Generator, region: str | None = None, depth: str | None = None,
                  volume_ml: float | None = None, max_matrix: int = 256,
                  plane: str | None = None) -> LabelMap:
    """One random body section with one tumour; ``region``/``depth``/``volume_ml``/``plane`` pin
    a draw. About one case in five is resliced along the limb (coronal- or sagittal-like)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng([int(seed), 0x1AB])
    region = region or str(rng.choice(REGIONS, p=[0.26, 0.14, 0.14, 0.14, 0.16, 0.16]))
    if region not in SPECS:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
    depth = depth or str(rng.choice(DEPTHS, p=[0.45, 0.3, 0.25]))
    if depth not in DEPTHS:
        raise ValueError(f"depth must be one of {DEPTHS}, got {depth!r}")
    plane = plane or str(rng.choice(PLANES, p=[0.8, 0.1, 0.1]))
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
    for _ in range(8):   # a placement can fail (tumour outside the FOV): draw the body again
        try:
            lm = _draw_once(rng, region, depth, volume_ml, max_matrix)
        except _PlacementError:
            continue
        return lm if plane == "axial" else _reslice(lm, plane, rng, max_matrix)
    raise RuntimeError("could not place a tumour in 8 draws")


class _PlacementError(RuntimeError):
    pass


def _draw_once(rng: np.random.Generator, region: str, depth: str, volume_ml: float | None,
               max_matrix: int) -> LabelMap:
    body = _draw_body(rng, region)
    vol = float(volume_ml) if volume_ml is not None else _draw_volume(rng, SPECS[region], depth)
    r_eq = (3 * vol * 1000 / (4 * math.pi)) ** (1 / 3)
    bulge = 1.3 * r_eq if depth == "superficial" else 0.0
    elong = float(rng.uniform(1.0, 2.6))
    z_len = r_eq * elong ** (2 / 3) * 1.5   # half-length along the axis, lobes included
    grid = _draw_grid(rng, region, body, max_matrix, bulge, 2 * z_len + 8)
    if region in TRUNK:   # the FOV shows the posterior body wall with the skin in view
        _shift(body, (grid.rows - 1) / 2 * grid.dxy * float(rng.uniform(0.55, 0.85)) - (body.cy + body.b))
    anat = _Anatomy(rng, body, grid)
    zs = grid.sub_z()
    z_half = zs.max() + grid.dz / 2
    tum = _place_tumour(rng, anat, depth, vol, z_half, elong, z_len)
    _add_bundles(rng, anat, grid)
    labels = np.empty((zs.size, grid.rows, grid.cols), np.uint8)
    box = _box(anat, tum, zs)
    score = np.full((box[1] - box[0], box[3] - box[2], box[5] - box[4]), -np.inf, np.float32)
    allowed = np.zeros(score.shape, bool)
    f_t = _ZField(rng, (box[3] - box[2], box[5] - box[4]), max(2.0, tum.extent / 3 / grid.dxy), (40, 120))
    ty, tx = anat.y[box[2]:box[3]], anat.x[:, box[4]:box[5]]
    for i, z in enumerate(zs):
        lab, dep, fdepth, margin = anat.slice(float(z))
        labels[i] = lab
        if box[0] <= i < box[1]:
            j = i - box[0]
            sl = (slice(box[2], box[3]), slice(box[4], box[5]))
            score[j] = _tumour_score(tum, float(z), ty, tx, f_t.at(float(z)), margin[sl])
            allowed[j] = _allowed(tum, lab[sl], dep[sl], fdepth[sl] if np.ndim(fdepth) else fdepth)
    n_target = round(vol / grid.sub_ml)
    tumour = _threshold(score, allowed, n_target)
    if not tumour.any():
        raise _PlacementError("no tumour voxel")
    sub = labels[box[0]:box[1], box[2]:box[3], box[4]:box[5]]
    replaced = np.bincount(sub[tumour], minlength=len(Tissue))
    _paint_tumour(rng, tum, sub, tumour, grid)
    labels = labels.reshape(grid.slices, grid.points, grid.rows, grid.cols)
    is_t = np.isin(labels, _TUMOUR_CODES)
    mask = is_t.sum(axis=1) * 2 > grid.points
    spacing = (grid.dz, grid.dxy, grid.dxy)
    vol_ml = float(mask.sum()) * grid.dz * grid.dxy * grid.dxy / 1000
    cut = bool(mask[0].any() or mask[-1].any())
    meta = {"region": region, "depth": "superficial" if depth == "superficial" else "deep",
            "depth_detail": depth, "volume_ml": round(vol_ml, 2), "requested_ml": round(vol, 2),
            "cut_by_slab": cut, "capsule": tum.capsule, "septa": tum.septa, "nodules": tum.nodules,
            "displaced": {Tissue(t).name: round(float(c) / float(replaced.sum()), 4)
                          for t, c in enumerate(replaced) if c},
            "plane": "axial", "slices": grid.slices, "points": grid.points,
            "spacing_mm": [round(v, 4) for v in spacing]}
    return LabelMap(labels, mask, spacing, meta)


def _reslice(lm: LabelMap, plane: str, rng: np.random.Generator, max_matrix: int) -> LabelMap:
    """Slices along the limb axis from the axial sub-slices: in-plane (rows or columns, z), the
    slice thickness made of 3-6 mm of pixels (each a partial-volume point). Kept axial when the
    FOV gives fewer than 20 such slices."""
    s, p, r, c = lm.labels.shape
    dz, dxy = lm.spacing[0], lm.spacing[1]
    vol = lm.labels.reshape(s * p, r, c)
    vol = vol.transpose(2, 1, 0) if plane == "sagittal" else vol.transpose(1, 2, 0)   # (n, rows, z)
    k = max(math.ceil(3 / dxy), round(float(rng.uniform(3, 6)) / dxy))   # slice thickness >= 3 mm
    n = vol.shape[0] // k
    if n < 20:
        return lm
    lab = vol[: n * k].reshape(n, k, vol.shape[1], vol.shape[2])
    mask = np.isin(lab, _TUMOUR_CODES).sum(axis=1) * 2 > k
    if not mask.any():
        return lm
    idx = np.argwhere(mask)
    mid = (idx.min(0) + idx.max(0)) // 2
    ns = min(n, int(rng.integers(20, 49)))
    nc = min(lab.shape[3], max_matrix)
    a = int(np.clip(mid[0] - ns // 2, 0, n - ns))
    b = int(np.clip(mid[2] - nc // 2, 0, lab.shape[3] - nc))
    lab = np.ascontiguousarray(lab[a:a + ns, :, :, b:b + nc])
    mask = mask[a:a + ns, :, b:b + nc]
    spacing = (k * dxy, dxy, dz / p)
    meta = {**lm.meta, "plane": plane, "slices": ns, "points": k,
            "volume_ml": round(float(mask.sum()) * float(np.prod(spacing)) / 1000, 2),
            "cut_by_slab": bool(mask[0].any() or mask[-1].any()),
            "spacing_mm": [round(v, 4) for v in spacing]}
    return LabelMap(lab, mask, spacing, meta)


def _place_tumour(rng: np.random.Generator, anat: _Anatomy, depth: str, vol: float, z_half: float,
                  elong: float, z_len: float) -> _Tumour:
    body, grid = anat.body, anat.grid
    r_eq = (3 * vol * 1000 / (4 * math.pi)) ** (1 / 3)
    # z: mostly inside the slab, about one in ten cut by it
    if rng.random() < 0.1:
        zc = float(rng.choice([-1, 1]) * rng.uniform(0.7, 1.0) * z_half)
    else:
        zc = float(rng.uniform(-1, 1) * max(0.0, z_half - z_len))
    _, th, cy, cx = anat.polar(zc)
    half = ((grid.rows - 1) / 2 * grid.dxy, (grid.cols - 1) / 2 * grid.dxy)
    for _ in range(30):   # a surface point inside the FOV, with room for the tumour
        theta = math.pi / 2 + float(rng.uniform(-0.9, 0.9)) if body.region in TRUNK else \
            float(rng.uniform(0, 2 * math.pi))
        rr = float(min(body.a, body.b)) * 0.9
        sy, sx = cy + rr * math.sin(theta), cx + rr * math.cos(theta)
        if abs(sy) < half[0] - 0.5 * r_eq and abs(sx) < half[1] - 0.5 * r_eq:
            break
    capsule = str(rng.choice(["full", "partial", "none"], p=[0.5, 0.3, 0.2]))
    septa = int(rng.choice([0, 1, 2, 3, 5, 8], p=[0.2, 0.2, 0.2, 0.15, 0.15, 0.1]))
    nodules = int(rng.random() < 0.15) + int(rng.random() < 0.05)
    sw = float(rng.uniform(0.6, 3.0))
    if depth == "superficial":
        r_full = anat.outline_radius(th, zc)
        r_out = float(body.a)
        for _ in range(3):   # the outline where the ray at theta meets it
            py, px = cy + r_out * math.sin(theta), cx + r_out * math.cos(theta)
            iy = int(np.clip(round(py / grid.dxy + (grid.rows - 1) / 2), 0, grid.rows - 1))
            ix = int(np.clip(round(px / grid.dxy + (grid.cols - 1) / 2), 0, grid.cols - 1))
            r_out = float(r_full[iy, ix])
        fat = float(anat.fat_thickness(zc)[iy, ix])
        # lenticular: thin radially, wide tangentially and along z
        ratio = (float(rng.uniform(0.35, 0.7)), float(rng.uniform(1.0, 1.6)), elong)
        frame = _frame(theta)
        lobes, ext = _lobes(rng, vol, (ratio[2], ratio[0], ratio[1]), frame, flat=True)
        h = ext * ratio[0] / max(ratio) * 1.2
        # a third abut skin and fascia; the rest keep 2-10 mm of fat around them
        gap = 0.0 if rng.random() < 0.35 else float(rng.uniform(2, 10))
        height = max(0.0, 2 * h + 2 * gap + 1 - fat) * float(rng.uniform(0.95, 1.15))
        s_half = ext * ratio[1] / max(ratio) * 1.6 + 8
        anat.bulges.append((theta, zc, s_half, ext * 1.4 + 8, height))
        rad = r_out + height - body.skin - (fat + height) / 2
        centre = (zc, cy + rad * math.sin(theta), cx + rad * math.cos(theta))
        return _Tumour(depth, vol, centre, lobes, ext, capsule, septa, sw, nodules)
    # deep / intermuscular: centre on a plane (intermuscular) or in a compartment (deep)
    lab, dep, fdepth, margin = anat.slice(zc)
    inner = np.isin(lab, [_T.muscle, _T.im_fat]) & (dep > fdepth + 3)
    if body.region in TRUNK:
        inner &= np.abs(_wrap(th - theta)) < 0.9
    cand = inner & (margin < 3) if depth == "intermuscular" else inner & (margin > 6)
    if not cand.any():
        cand = inner
    if not cand.any():  # no muscle deep enough in this section (a thin one): draw the body again
        raise _PlacementError(f"no {depth} site in the section at z {zc:.0f} mm")
    idx = np.argwhere(cand)
    # prefer candidates far enough from the skin for the tumour's size (deep ones)
    iy, ix = idx[int(rng.integers(len(idx)))]
    y0, x0 = float(anat.y[iy, 0]), float(anat.x[0, ix])
    frame = _frame(float(np.arctan2(y0 - cy, x0 - cx)))
    lobes, ext = _lobes(rng, vol, (elong, float(rng.uniform(0.6, 1.2)), float(rng.uniform(0.7, 1.3))), frame)
    return _Tumour(depth, vol, (zc, y0, x0), lobes, ext, capsule, septa, sw, nodules)


def _add_bundles(rng: np.random.Generator, anat: _Anatomy, grid: _Grid) -> None:
    """Neurovascular bundles in fat planes; a few subcutaneous veins."""
    lab, dep, fdepth, _ = anat.slice(0.0)
    plane = (lab == _T.im_fat) | ((lab == _T.fascia) & (dep > fdepth))
    idx = np.argwhere(plane)
    for _ in range(int(rng.integers(1, 4)) if len(idx) else 0):
        iy, ix = idx[int(rng.integers(len(idx)))]
        anat.body.bundles.append((float(anat.y[iy, 0]), float(anat.x[0, ix]), float(rng.uniform(1.5, 4.0))))
    idx = np.argwhere(lab == _T.subcut_fat)
    for _ in range(int(rng.integers(0, 4)) if len(idx) else 0):
        iy, ix = idx[int(rng.integers(len(idx)))]
        anat.body.sc_veins.append((float(anat.y[iy, 0]), float(anat.x[0, ix]), float(rng.uniform(0.8, 2.5))))


def _box(anat: _Anatomy, tum: _Tumour, zs: np.ndarray) -> tuple[int, int, int, int, int, int]:
    g = anat.grid
    e = tum.extent * 1.35 + 6
    zc, yc, xc = tum.centre
    z0, z1 = np.searchsorted(zs, zc - e), np.searchsorted(zs, zc + e)
    ry = (yc / g.dxy + (g.rows - 1) / 2, e / g.dxy)
    rx = (xc / g.dxy + (g.cols - 1) / 2, e / g.dxy)
    y0, y1 = int(max(0, ry[0] - ry[1])), int(min(g.rows, ry[0] + ry[1] + 1))
    x0, x1 = int(max(0, rx[0] - rx[1])), int(min(g.cols, rx[0] + rx[1] + 1))
    return int(z0), int(max(z1, z0 + 1)), y0, max(y1, y0 + 1), x0, max(x1, x0 + 1)


def _tumour_score(tum: _Tumour, z: float, y: np.ndarray, x: np.ndarray, noise: np.ndarray,
                  margin: np.ndarray) -> np.ndarray:
    """Higher inside: max over lobes of 1 - ellipsoidal radius, warped; along planes if intermuscular."""
    zc, yc, xc = tum.centre
    best = None
    for c, inv in tum.lobes:
        dz, dy, dx = z - zc - c[0], y - yc - c[1], x - xc - c[2]
        u = inv[:, 0, None, None] * dz + inv[:, 1, None, None] * dy + inv[:, 2, None, None] * dx
        s = 1 - np.sqrt(u[0] ** 2 + u[1] ** 2 + u[2] ** 2)
        best = s if best is None else np.maximum(best, s)
    out = best + 0.12 * noise
    if tum.depth == "intermuscular":
        out = out + 0.35 * np.exp(-margin / 3.0)
    return out.astype(np.float32)


def _allowed(tum: _Tumour, lab: np.ndarray, dep: np.ndarray, fdepth: np.ndarray) -> np.ndarray:
    if tum.depth == "superficial":
        return (lab == _T.subcut_fat) | (lab == _T.vessel) & (dep < fdepth)
    return np.isin(lab, [_T.muscle, _T.im_fat, _T.fascia, _T.vessel]) & (dep > fdepth + 0.8)


def _threshold(score: np.ndarray, allowed: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` highest-scoring allowed sub-voxels, as one connected piece where possible."""
    vals = score[allowed]
    if vals.size == 0:
        return np.zeros(score.shape, bool)
    n = int(np.clip(n, 1, vals.size))
    tau = np.partition(vals, vals.size - n)[vals.size - n]
    tau = max(float(tau), -0.35)
    t = allowed & (score >= tau)
    lab, k = ndimage.label(t)
    if k > 1:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        t = lab == int(np.argmax(sizes))
    return t


def _paint_tumour(rng: np.random.Generator, tum: _Tumour, sub: np.ndarray, tumour: np.ndarray,
                  grid: _Grid) -> None:
    """Capsule (full/partial/none), septa (thin sheets), nodules inside ``tumour`` (sub-box)."""
    sub[tumour] = _T.tumour_fat
    shape = tumour.shape[1:]
    if tum.capsule != "none":
        er = ndimage.binary_erosion(tumour, structure=np.ones((1, 3, 3), bool))
        shell = tumour & ~er
        if tum.capsule == "partial":
            f = _ZField(rng, shape, max(2.0, 10 / grid.dxy), (40, 120))
            zs = grid.sub_z()
            keep = np.stack([f.at(float(z)) > -0.2 for z in zs[: tumour.shape[0]]])
            shell &= keep
        sub[shell] = _T.capsule
    inside = tumour & (sub != _T.capsule)
    if tum.septa:
        sig = max(1.5, 12 / grid.dxy)
        level = np.zeros(tumour.shape, bool)
        zs = grid.sub_z()[: tumour.shape[0]]
        w = tum.septum_width / grid.dxy / sig * 0.5   # half width in noise units (~|grad| 1/sig)
        for _ in range(tum.septa):
            f = _ZField(rng, shape, sig * rng.uniform(0.7, 1.5), (30, 90))
            off = float(rng.normal(0, 0.6))
            level |= np.stack([np.abs(f.at(float(z)) - off) < w for z in zs])
        sub[inside & level] = _T.septum
    for _ in range(tum.nodules):
        idx = np.argwhere(inside)
        if not len(idx):
            break
        c = idx[int(rng.integers(len(idx)))]
        rr = float(rng.uniform(4, 15))
        zz, yy, xx = np.ogrid[: tumour.shape[0], : shape[0], : shape[1]]
        d = (((zz - c[0]) * grid.dz / grid.points) ** 2 + ((yy - c[1]) * grid.dxy) ** 2
             + ((xx - c[2]) * grid.dxy) ** 2)
        sub[inside & (d < rr * rr)] = _T.nodule


# ------------------------------------------------------------------------------------------- cohort

def case_name(index: int) -> str:
    return f"lm-{index:04d}"


def _write_case(args: tuple[int, int, Path, int]) -> str:
    index, seed, out_dir, max_matrix = args
    return labelmap_case(index, out_dir, seed, max_matrix).name


def labelmap_case(index: int, out_dir: Path, seed: int = 0, max_matrix: int = 256) -> Path:
    """Case ``index`` of :func:`labelmap_cohort` alone (parallel workers call this; the same
    (seed, index) always gives the same case); a complete case already on disk is kept."""
    import SimpleITK as sitk  # noqa: N813 (the library's own convention)

    from node import atomic
    from node.synthetic.randomise import randomise

    folder = Path(out_dir) / case_name(index)
    if (folder / "truth.json").is_file():
        return folder
    case_seed = int(seed) * 1_000_003 + index
    rng = np.random.default_rng([case_seed, 0x1AB5])
    lm = draw_labelmap(rng, max_matrix=max_matrix)
    image, mask = randomise(lm.labels, lm.mask, rng)
    sp = (lm.spacing[2], lm.spacing[1], lm.spacing[0])
    img = sitk.GetImageFromArray(np.clip(image, 0, 32767).astype(np.int16))
    seg = sitk.GetImageFromArray(mask.astype(np.uint8))
    for im in (img, seg):
        im.SetSpacing(sp)
    atomic.write_image(folder / "image.nii.gz", img)
    atomic.write_image(folder / "segmentation.nii.gz", seg)
    # truth.json last: it marks a complete case (a restart skips it, readers require it)
    # the written mask may be cropped with the image (partial FOV): describe what was written
    meta = {**lm.meta, "labelmap_volume_ml": lm.meta["volume_ml"],
            "volume_ml": round(float(mask.sum()) * float(np.prod(lm.spacing)) / 1000, 2),
            "shape_zyx": list(mask.shape)}
    atomic.write_text(folder / "truth.json", json.dumps({**meta, "generator": GENERATOR, "seed": case_seed,
                                                          "cohort_seed": seed, "index": index}) + "\n")
    return folder


def labelmap_cohort(n: int, out_dir: Path, seed: int = 0, workers: int = 1, max_matrix: int = 256) -> Path:
    """``n`` domain-randomised cases on these label maps in WORC layout; deterministic per
    (seed, index), so a restart or another worker count writes the same cases."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(i, seed, out_dir, max_matrix) for i in range(n)]
    if workers > 1:
        import multiprocessing as mp

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        with mp.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_write_case, jobs, chunksize=1):
                pass
    else:
        for job in jobs:
            _write_case(job)
    return out_dir
