"""A small T1-like limb phantom with fixed masks for the QC rules (issue 14): skin, subcutaneous
fat, muscle, bone, a fatty tumour with a capsule deep in the muscle, and a second one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPACING_ZYX = (4.0, 1.0, 1.0)
SHAPE = (16, 128, 128)


@dataclass(frozen=True)
class Phantom:
    image: np.ndarray
    tumour: np.ndarray
    second: np.ndarray
    subcut_fat: np.ndarray


def phantom(seed: int = 0) -> Phantom:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in SHAPE), indexing="ij")
    r = np.hypot(y - 64, x - 64)
    img = np.zeros(SHAPE, np.float32)
    img[r < 56] = 500                       # skin
    subcut = (r < 54) & (r >= 42)
    img[r < 54] = 1000                      # subcutaneous fat
    img[r < 42] = 420                       # muscle (fascia at the edge)
    img[(r < 42) & (r >= 41)] = 250
    img[r < 9] = 60                         # cortex
    img[r < 6] = 900                        # marrow
    q = np.sqrt(((z - 8) * 4 / 16) ** 2 + ((y - 93) / 12) ** 2 + ((x - 64) / 14) ** 2)
    tumour = q < 1.0
    img[tumour] = 980
    img[tumour & (q >= 0.9)] = 300          # capsule
    q2 = np.sqrt(((z - 8) * 4 / 12) ** 2 + ((y - 45) / 7) ** 2 + ((x - 40) / 7) ** 2)
    second = q2 < 1.0
    img[second] = 980
    img[second & (q2 >= 0.85)] = 300
    rng = np.random.default_rng(seed)
    img = np.abs(img + rng.normal(0, 25, SHAPE)).astype(np.float32)
    return Phantom(img, tumour, second, subcut & ~tumour)
