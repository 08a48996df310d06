"""Hold-out signal model: spin-echo T1 from per-tissue (PD, T1, T2) plus scanner effects.

Deliberately unlike the twin's :mod:`node.synthetic.physics`: the image is the classic spin-echo
equation S = PD (1 - exp(-TR/T1)) exp(-TE/T2) with per-case tissue jitter, then a surface-coil
sensitivity (falling off with distance from one or two coil centres) times a smooth polynomial
bias, partial-volume averaging over thick slices, Rician noise, optional phase-encode ghosting
and a vendor-specific output scaling (bit depth, offset, rescale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from node.holdout.anatomy import Tissue

#: (PD, T1 ms, T2 ms) at 1.5 T; 3 T lengthens T1 of non-fat tissue ~20 %
TISSUE_PARAMS: dict[Tissue, tuple[float, float, float]] = {
    Tissue.AIR: (0.0, 1000, 50),
    Tissue.SKIN: (0.75, 600, 40),
    Tissue.SUBCUT_FAT: (1.0, 270, 85),
    Tissue.FASCIA: (0.35, 900, 30),
    Tissue.MUSCLE: (0.78, 880, 40),
    Tissue.IM_FAT: (1.0, 270, 85),
    Tissue.CORTEX: (0.05, 1000, 5),
    Tissue.MARROW: (0.9, 320, 80),
    Tissue.VESSEL: (0.15, 1200, 150),   # flow void
    Tissue.NERVE: (0.7, 1000, 60),
    Tissue.TUMOUR_FAT: (0.98, 290, 90),
    Tissue.SEPTUM: (0.6, 950, 50),
    Tissue.NODULE: (0.8, 1100, 80),
    Tissue.CAPSULE: (0.45, 900, 35),
}

_FAT = (Tissue.SUBCUT_FAT, Tissue.IM_FAT, Tissue.MARROW, Tissue.TUMOUR_FAT)


@dataclass(frozen=True)
class Vendor:
    name: str
    tr: tuple[float, float]
    te: tuple[float, float]
    max_value: float
    offset: float
    snr: tuple[float, float]
    ghost_p: float


VENDORS = {
    "ge": Vendor("ge", (450, 700), (8, 14), 3000.0, 0.0, (18, 40), 0.3),
    "siemens": Vendor("siemens", (500, 800), (10, 16), 1200.0, 0.0, (15, 35), 0.2),
    "philips": Vendor("philips", (400, 650), (12, 20), 800.0, 40.0, (12, 30), 0.35),
}


def tissue_signal(rng: np.random.Generator, vendor: Vendor, field_t: float) -> np.ndarray:
    """Signal per tissue label (index = label) for one acquisition, with per-case jitter."""
    tr, te = float(rng.uniform(*vendor.tr)), float(rng.uniform(*vendor.te))
    out = np.zeros(max(Tissue) + 1, dtype=np.float32)
    for t, (pd, t1, t2) in TISSUE_PARAMS.items():
        if t not in _FAT and t is not Tissue.AIR:
            t1 = t1 * (1.2 if field_t > 2 else 1.0)
        t1 *= float(rng.uniform(0.88, 1.12))
        pd *= float(rng.uniform(0.92, 1.08))
        out[t] = pd * (1 - math.exp(-tr / t1)) * math.exp(-te / t2)
    return out


def coil_field(rng: np.random.Generator, coords_mm: tuple[np.ndarray, np.ndarray, np.ndarray],
               body_radius: float) -> np.ndarray:
    """Receive sensitivity: 1-2 surface coils (1/(1+(d/d0)^2)) times a quadratic bias."""
    x, y, z = coords_mm
    sens = np.zeros(x.shape, dtype=np.float32)
    for _ in range(int(rng.integers(1, 3))):
        a = float(rng.uniform(0, 2 * math.pi))
        cx, cy = 1.3 * body_radius * math.cos(a), 1.3 * body_radius * math.sin(a)
        d0 = float(rng.uniform(0.8, 2.0)) * body_radius
        sens += 1.0 / (1.0 + ((x - cx) ** 2 + (y - cy) ** 2 + (0.5 * z) ** 2) / d0 ** 2)
    sens /= float(np.median(sens))
    c = rng.uniform(-0.15, 0.15, 3)
    poly = 1 + c[0] * x / body_radius + c[1] * y / body_radius + c[2] * z / 200.0
    return np.clip(sens * poly, 0.2, 3.0).astype(np.float32)


def acquire(labels_sub: np.ndarray, signal: np.ndarray, field: np.ndarray, sub: int,
            rng: np.random.Generator, vendor: Vendor, pe_axis: int) -> np.ndarray:
    """Sub-sliced labels (slice axis 0, ``sub`` per slice) → integer-valued image."""
    s = signal[labels_sub] * field
    n = s.shape[0] // sub
    img = s[: n * sub].reshape(n, sub, *s.shape[1:]).mean(axis=1)
    inside = labels_sub[: n * sub].reshape(n, sub, *s.shape[1:]).max(axis=1) > 0
    ref = float(np.percentile(img[inside], 95)) if inside.any() else 1.0
    if rng.random() < vendor.ghost_p:
        shift = int(img.shape[pe_axis] * rng.uniform(0.15, 0.45))
        img = img + float(rng.uniform(0.03, 0.08)) * np.roll(img, shift, axis=pe_axis)
    sigma = ref / float(rng.uniform(*vendor.snr))
    noisy = np.hypot(img + rng.normal(0, sigma, img.shape), rng.normal(0, sigma, img.shape))
    scale = vendor.max_value * float(rng.uniform(0.6, 1.0)) / max(ref, 1e-6)
    return np.clip(np.rint(noisy * scale + vendor.offset), 0, 32767).astype(np.int16)
