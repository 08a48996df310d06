"""Hold-out anatomy: voxel label maps built from compartments, not from the twin's layers.

Deliberately unlike :mod:`node.synthetic.anatomy` (analytic tube, round bone, dot vessels):
the cross-section is a Fourier contour whose skin and subcutaneous fat vary around the
circumference and along the axis; the muscle inside is split into compartments by a Voronoi
partition whose boundaries are fascia, some widened into intermuscular fat planes; bones are
irregular ellipses with cortex and marrow; neurovascular bundles are vessel + nerve in a fat
sheath; the tumour is a union of perturbed ellipsoids (multilobulated) with optional capsule,
septa and (ALT-like) nodules, placed superficial (in the fat, bulging the skin), intermuscular
(on a compartment boundary) or deep (inside a compartment).

Everything is evaluated on millimetre coordinates, so any grid (axial, coronal, sagittal;
thin or thick slices) samples the same body. Only used to *evaluate*; never train on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Tissue(IntEnum):
    AIR = 0
    SKIN = 1
    SUBCUT_FAT = 2
    FASCIA = 3
    MUSCLE = 4
    IM_FAT = 5
    CORTEX = 6
    MARROW = 7
    VESSEL = 8
    NERVE = 9
    TUMOUR_FAT = 10
    SEPTUM = 11
    NODULE = 12
    CAPSULE = 13


TUMOUR_TISSUES = (Tissue.TUMOUR_FAT, Tissue.SEPTUM, Tissue.NODULE, Tissue.CAPSULE)

#: region → (semi-axis x range mm, semi-axis y range, subcutaneous fat range, bones, compartments)
REGIONS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float], int,
                         tuple[int, int]]] = {
    "thigh": ((62, 95), (58, 88), (4, 32), 1, (4, 7)),
    "calf": ((42, 58), (40, 55), (3, 14), 2, (4, 6)),
    "upper_arm": ((36, 50), (34, 46), (3, 16), 1, (2, 4)),
    "shoulder": ((70, 95), (55, 75), (4, 20), 1, (3, 5)),
    "back": ((140, 175), (55, 75), (6, 35), 0, (3, 6)),
    "buttock": ((110, 145), (85, 110), (15, 50), 1, (3, 5)),
}


@dataclass(frozen=True)
class Lobe:
    centre: np.ndarray   # mm, relative to the tumour centre
    axes: np.ndarray     # semi-axes mm
    rot: np.ndarray      # 3x3
    waves: tuple[tuple[float, float, float, float], ...]  # (kx, ky, kz, amp) on the unit sphere


@dataclass(frozen=True)
class TumourDesign:
    centre: np.ndarray
    lobes: tuple[Lobe, ...]
    capsule_mm: float
    septa: tuple[tuple[float, float, float, float, float], ...]  # (kx, ky, kz, phase, width)
    nodules: tuple[tuple[float, float, float, float], ...]       # (x, y, z, r) relative
    depth: str
    extent_mm: float


@dataclass(frozen=True)
class Body:
    region: str
    ax: float
    ay: float
    harmonics: tuple[tuple[int, float, float], ...]   # (k, amplitude, phase) of the contour
    skin_mm: float
    fat_mm: float
    fat_harmonics: tuple[tuple[int, float, float], ...]
    z_wave: tuple[float, float]                        # contour change along z: (amp, period)
    seeds: np.ndarray                                  # (n, 2) compartment seeds (relative units)
    plane_width: dict[tuple[int, int], float]          # seed pair → intermuscular fat width
    bones: tuple[tuple[float, float, float, float, float], ...]  # (x, y, rx, ry, cortex)
    bundles: tuple[tuple[float, float, float], ...]    # (x, y, vessel radius)
    tumour: TumourDesign | None
    bulge: tuple[float, float, float, float] | None    # (theta, z, height, width) skin bump


def _rot(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def _harm(rng: np.random.Generator, ks: tuple[int, ...], amp: float) -> tuple[tuple[int, float, float], ...]:
    return tuple((k, float(rng.uniform(0, amp / k)), float(rng.uniform(0, 2 * math.pi))) for k in ks)


def contour(body: Body, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Radius scale (≈ 1) of the outer skin contour at angle ``theta`` and height ``z``."""
    s = np.ones_like(theta)
    for k, a, p in body.harmonics:
        s = s + a * np.cos(k * theta + p)
    amp, period = body.z_wave
    return s * (1 + amp * np.sin(2 * math.pi * z / period))


def fat_thickness(body: Body, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
    f = np.ones_like(theta)
    for k, a, p in body.fat_harmonics:
        f = f + a * np.cos(k * theta + p)
    return np.clip(body.fat_mm * f * (1 + 0.15 * np.cos(z / 37.0)), 1.5, None)


def design_body(rng: np.random.Generator, region: str, depth: str, volume_ml: float,
                alt_like: bool) -> Body:
    """Draw a body of ``region`` with one tumour of about ``volume_ml`` at ``depth``."""
    (ax_lo, ax_hi), (ay_lo, ay_hi), (f_lo, f_hi), n_bones, (c_lo, c_hi) = REGIONS[region]
    ax, ay = float(rng.uniform(ax_lo, ax_hi)), float(rng.uniform(ay_lo, ay_hi))
    n = int(rng.integers(c_lo, c_hi + 1))
    ang = np.sort(rng.uniform(0, 2 * math.pi, n))
    rad = rng.uniform(0.25, 0.6, n)
    seeds = np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)
    widths = {}
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < 0.45:
                widths[(i, j)] = float(rng.uniform(1.2, 5.0))
    bones = []
    for b in range(n_bones if region != "calf" else 2):
        r = float(rng.uniform(0.14, 0.2)) * min(ax, ay) * (0.6 if b else 1.0)
        if region in ("shoulder", "buttock"):
            r *= 1.5
        bx = float(rng.uniform(-0.25, 0.25)) * ax + (0.4 * ax if b else 0.0)
        by = float(rng.uniform(-0.25, 0.1)) * ay
        bones.append((bx, by, r * float(rng.uniform(0.85, 1.2)), r, float(rng.uniform(2.0, 5.5))))
    bundles = []
    for _ in range(int(rng.integers(1, 4))):
        a = float(rng.uniform(0, 2 * math.pi))
        rr = float(rng.uniform(0.2, 0.5))
        bundles.append((rr * ax * math.cos(a), rr * ay * math.sin(a), float(rng.uniform(2.0, 4.0))))
    body = Body(region, ax, ay, _harm(rng, (2, 3, 4, 5), 0.16), float(rng.uniform(1.2, 2.6)),
                float(rng.uniform(f_lo, f_hi)), _harm(rng, (1, 2, 3), 0.8),
                (float(rng.uniform(0.0, 0.08)), float(rng.uniform(150, 400))), seeds, widths,
                tuple(bones), tuple(bundles), None, None)
    tumour, bulge = _design_tumour(rng, body, depth, volume_ml, alt_like)
    return Body(**{**body.__dict__, "tumour": tumour, "bulge": bulge})


def _design_tumour(rng: np.random.Generator, body: Body, depth: str, volume_ml: float,
                   alt_like: bool) -> tuple[TumourDesign, tuple[float, float, float, float] | None]:
    r_eq = (3 * volume_ml * 1000 / (4 * math.pi)) ** (1 / 3)  # equivalent sphere radius mm
    if depth != "superficial":  # a deep tumour fits inside the muscle (it displaces, not pierces)
        r_eq = min(r_eq, 0.35 * min(body.ax, body.ay))
    n_lobes = int(rng.integers(1, 5))
    lobes = []
    for i in range(n_lobes):
        scale = r_eq * (1.0 if i == 0 else float(rng.uniform(0.4, 0.75)))
        axes = scale * rng.uniform(0.6, 1.5, 3)
        if depth == "superficial":
            axes[2] *= 1.4  # flat, elongated along the limb
        off = np.zeros(3) if i == 0 else rng.normal(size=3) * r_eq * 0.6
        waves = tuple((float(rng.normal()), float(rng.normal()), float(rng.normal()),
                       float(rng.uniform(0.0, 0.18))) for _ in range(3))
        lobes.append(Lobe(off, axes, _rot(rng), waves))
    extent = float(max(np.linalg.norm(lb.centre) + lb.axes.max() * 1.25 for lb in lobes))
    theta = float(rng.uniform(0, 2 * math.pi))
    z0 = float(rng.uniform(-30, 30))
    bulge = None
    sites: list[np.ndarray] = []  # where a deep tumour may go instead if its centre is in a bone
    if depth == "superficial":
        r_out = float(contour(body, np.array([theta]), np.array([z0]))[0])
        unit_mm = math.hypot(body.ax * math.cos(theta), body.ay * math.sin(theta))
        r_out_mm = unit_mm * r_out
        fat = float(fat_thickness(body, np.array([theta]), np.array([z0]))[0])
        radial_half = r_eq * 0.7
        depth_mm = body.skin_mm + max(fat * 0.5, radial_half + 1.0)
        centre_r = r_out_mm - depth_mm
        height = max(0.0, radial_half * 2 + body.skin_mm + 1.5 - fat) * float(rng.uniform(0.7, 1.0))
        if height > 0:
            bulge = (theta, z0, height, r_eq * 1.3)
        # theta is the angle in the body's normalised (ellipse) frame, as in label_map
        cx = centre_r / unit_mm * body.ax * math.cos(theta)
        cy = centre_r / unit_mm * body.ay * math.sin(theta)
        # squash radially so the tumour stays between fascia and skin
        for k, lb in enumerate(lobes):
            lobes[k] = Lobe(lb.centre * np.array([0.6, 0.6, 1.0]), lb.axes, lb.rot, lb.waves)
    elif depth == "intermuscular":
        i, j = rng.choice(len(body.seeds), 2, replace=False)
        mid = (body.seeds[i] + body.seeds[j]) / 2
        cx, cy = mid[0] * body.ax, mid[1] * body.ay
        sites = [(a + b) / 2 * (body.ax, body.ay)
                 for n, a in enumerate(body.seeds) for b in body.seeds[n + 1:]]
    else:
        k = int(rng.integers(len(body.seeds)))
        cx, cy = body.seeds[k][0] * body.ax * 0.9, body.seeds[k][1] * body.ay * 0.9
        sites = [sd * (body.ax * 0.9, body.ay * 0.9) for sd in body.seeds]
    if sites and _bone_clearance(body, cx, cy) < 1:  # deep and intermuscular only
        cx, cy = _clearest(body, sites)
    septa = tuple((float(rng.normal()), float(rng.normal()), float(rng.normal()),
                   float(rng.uniform(0, 2 * math.pi)),
                   float(rng.uniform(0.6, 1.0) if not alt_like else rng.uniform(1.2, 2.5)))
                  for _ in range(int(rng.integers(0, 4)) + (2 if alt_like else 0)))
    nodules = tuple((*(rng.normal(size=3) * r_eq * 0.35), float(rng.uniform(0.12, 0.3) * r_eq))
                    for _ in range(int(rng.integers(1, 4)) if alt_like else 0))
    capsule = float(rng.uniform(0.6, 1.4)) if rng.random() < 0.7 else 0.0
    return TumourDesign(np.array([cx, cy, z0]), tuple(lobes), capsule, septa, nodules, depth,
                        extent), bulge


def _bone_clearance(body: Body, x: float, y: float) -> float:
    """Smallest normalised distance to a bone's outline (< 1: inside a bone)."""
    return min((math.hypot((x - bx) / rx, (y - by) / ry) for bx, by, rx, ry, _ in body.bones),
               default=math.inf)


def _clearest(body: Body, candidates: list[np.ndarray]) -> tuple[float, float]:
    """The candidate centre farthest from every bone. Bones are painted over soft tissue, so a
    deep tumour whose centre fell inside the (large) pelvic or shoulder bone vanished from the
    truth (seed 27: two small buttock tumours with 0 voxels). Chosen without a random draw, so
    every case whose first choice was clear of bone renders exactly as before."""
    best = max(candidates, key=lambda c: _bone_clearance(body, float(c[0]), float(c[1])))
    return float(best[0]), float(best[1])


def tumour_field(t: TumourDesign, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Approximate signed distance (mm, < 0 inside) to the multilobulated surface."""
    best = np.full(x.shape, np.inf, dtype=np.float32)
    for lb in t.lobes:
        p = np.stack([x - t.centre[0] - lb.centre[0], y - t.centre[1] - lb.centre[1],
                      z - t.centre[2] - lb.centre[2]], axis=-1) @ lb.rot
        q = np.sqrt(((p / lb.axes) ** 2).sum(-1)) + 1e-6
        u = p / lb.axes / q[..., None]
        mod = np.ones_like(q)
        for kx, ky, kz, amp in lb.waves:
            mod = mod + amp * np.sin(3 * (kx * u[..., 0] + ky * u[..., 1] + kz * u[..., 2]))
        d = (q - mod) * float(lb.axes.min())
        best = np.minimum(best, d.astype(np.float32))
    return best


def label_map(body: Body, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Tissue label (uint8) at LPS-like coordinates (mm, limb axis along z)."""
    theta = np.arctan2(y / body.ay, x / body.ax)
    rho = np.hypot(x / body.ax, y / body.ay)  # 1 = unperturbed skin surface
    r_scale = contour(body, theta, z)
    unit_mm = np.hypot(body.ax * np.cos(theta), body.ay * np.sin(theta))
    outer_mm = r_scale * unit_mm
    if body.bulge is not None:
        th0, z0, h, w = body.bulge
        dth = np.angle(np.exp(1j * (theta - th0))) * outer_mm
        outer_mm = outer_mm + h * np.exp(-(dth ** 2 + (z - z0) ** 2) / (2 * w ** 2))
    r_mm = rho * unit_mm
    depth = outer_mm - r_mm  # mm below the skin surface
    fat = fat_thickness(body, theta, z)
    lab = np.zeros(x.shape, dtype=np.uint8)
    inside = depth >= 0
    lab[inside] = Tissue.SKIN
    lab[inside & (depth >= body.skin_mm)] = Tissue.SUBCUT_FAT
    deep = depth >= body.skin_mm + fat
    if body.bulge is not None:  # the bulge is filled with fat, the fascia stays where it was
        deep = deep & (depth - (outer_mm - r_scale * unit_mm) >= body.skin_mm + fat)
    lab[deep] = Tissue.FASCIA
    muscle = deep & (depth >= body.skin_mm + fat + 1.0)
    lab[muscle] = Tissue.MUSCLE
    # compartments: distance to the bisector between the nearest two seeds
    px, py = x / body.ax, y / body.ay
    d2 = np.stack([(px - s[0]) ** 2 + (py - s[1]) ** 2 for s in body.seeds], axis=-1)
    order = np.argsort(d2, axis=-1)[..., :2]
    i, j = order[..., 0], order[..., 1]
    si, sj = body.seeds[i], body.seeds[j]
    sep = np.linalg.norm((si - sj) * np.array([body.ax, body.ay]), axis=-1) + 1e-6
    di, dj = np.take_along_axis(d2, order, -1).transpose(-1, *range(d2.ndim - 1))
    bis = (dj - di) * (body.ax * body.ay) / (2 * sep)  # ≈ mm from the boundary
    width = np.zeros(x.shape, dtype=np.float32)
    for (a, b), w in body.plane_width.items():
        width[((i == a) & (j == b)) | ((i == b) & (j == a))] = w
    lab[muscle & (bis < 0.6)] = Tissue.FASCIA
    lab[muscle & (bis < width / 2) & (width > 0)] = Tissue.IM_FAT
    for vx, vy, vr in body.bundles:
        dv = np.hypot(x - vx, y - vy)
        lab[muscle & (dv < vr + 3.0)] = Tissue.IM_FAT
        lab[muscle & (np.hypot(x - vx - vr, y - vy) < vr)] = Tissue.VESSEL
        lab[muscle & (np.hypot(x - vx + vr * 0.9, y - vy + vr * 0.5) < vr * 0.7)] = Tissue.NERVE
    t = body.tumour
    if t is not None:
        sd = tumour_field(t, x, y, z)
        tum = (sd < 0) & inside & (depth >= body.skin_mm * 0.6)
        lab[tum] = Tissue.TUMOUR_FAT
        for kx, ky, kz, ph, w in t.septa:
            k = np.array([kx, ky, kz]) / (np.linalg.norm([kx, ky, kz]) + 1e-6)
            s = (x - t.centre[0]) * k[0] + (y - t.centre[1]) * k[1] + (z - t.centre[2]) * k[2]
            wav = s + 4.0 * np.sin((x + y) / 17.0 + ph)
            lab[tum & (np.abs(np.mod(wav, 25.0) - 12.5) < w / 2)] = Tissue.SEPTUM
        for nx, ny, nz, nr in t.nodules:
            dn = np.sqrt((x - t.centre[0] - nx) ** 2 + (y - t.centre[1] - ny) ** 2
                         + (z - t.centre[2] - nz) ** 2)
            lab[tum & (dn < nr)] = Tissue.NODULE
        if t.capsule_mm > 0:
            lab[tum & (sd > -t.capsule_mm)] = Tissue.CAPSULE
    for bx, by, rx, ry, cortex in body.bones:
        q = np.hypot((x - bx) / rx, (y - by) / ry)
        lab[q < 1] = Tissue.CORTEX
        lab[q < 1 - cortex / min(rx, ry)] = Tissue.MARROW
    return lab
