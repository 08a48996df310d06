"""Domain-randomised training images from the twin's label maps (SynthSeg-style, issue 14).

Billot et al. (Medical Image Analysis 2023) train on images drawn from label maps with random
intensities per label, so the network learns shape and context rather than one scanner's
contrast. For lipomatous tumours one constraint is kept: the tumour's fat has the *same*
intensity as the subcutaneous and intermuscular fat (± 5 %), as on real T1 — the network must
separate them by capsule, septa, shape and position, never by a small intensity offset that a
generator happened to put there. Everything else is random per case:

- per-tissue mean (non-fat tissues anywhere in [0.02, 0.75] of the fat level; with
  ``p_full_random`` also the fat level itself, i.e. arbitrary contrast) and texture (Gaussian
  per sub-voxel sample, so partial-volume averaging smooths it like real tissue);
- a smooth multiplicative bias field (low-resolution log-normal field, upsampled);
- resolution: extra in-plane blur; slice thickness comes from the twin's partial-volume sampling;
- Rician noise, phase-encode ghosting, and partial FOV (the body cut, the tumour kept).

Output is a WORC-layout cohort (``image.nii.gz``, ``segmentation.nii.gz``, ``truth.json``) that
``lipo-node train-seg`` turns into an nnU-Net v2 dataset unchanged. Never feed the hold-out
(node.holdout) into this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)
from scipy import ndimage

from node import atomic
from node.synthetic.enums import Tissue

FAT_TISSUES = (Tissue.subcut_fat, Tissue.im_fat, Tissue.tumour_fat)
GENERATOR = "lipo-synth-dr 1.0"


@dataclass(frozen=True)
class RandomisationConfig:
    p_full_random: float = 0.15
    texture_max: float = 0.06
    bias_log_sd: float = 0.35
    p_blur: float = 0.4
    noise: tuple[float, float] = (0.01, 0.07)
    p_ghost: float = 0.3
    p_partial_fov: float = 0.3


def tissue_means(rng: np.random.Generator, cfg: RandomisationConfig) -> np.ndarray:
    n = max(int(t) for t in Tissue) + 1
    means = np.zeros(n, np.float32)
    if rng.random() < cfg.p_full_random:
        means[:] = rng.uniform(0.02, 1.0, n)
        fat = float(rng.uniform(0.1, 1.0))
    else:
        fat = 1.0
        means[:] = rng.uniform(0.02, 0.75, n)
        means[Tissue.marrow] = fat * float(rng.uniform(0.75, 1.0))
        means[Tissue.cortex] = float(rng.uniform(0.0, 0.12))
    for t in FAT_TISSUES:
        means[t] = fat * float(rng.uniform(0.95, 1.05))
    means[Tissue.air] = float(rng.uniform(0.0, 0.03))
    return means


def bias_field(rng: np.random.Generator, shape: tuple[int, ...], log_sd: float) -> np.ndarray:
    coarse = rng.normal(0, log_sd, (3, 4, 4))
    field = ndimage.zoom(coarse, [s / c for s, c in zip(shape, coarse.shape, strict=True)], order=3)
    return np.exp(field[: shape[0], : shape[1], : shape[2]]).astype(np.float32)


def randomise(labels: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
              cfg: RandomisationConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Supersampled labels (slices, points, rows, cols) → (image float32, mask) on the grid;
    the mask may be cropped with the image (partial FOV)."""
    cfg = cfg or RandomisationConfig()
    means = tissue_means(rng, cfg)
    sds = rng.uniform(0.0, cfg.texture_max, means.shape).astype(np.float32)
    img = np.empty((labels.shape[0], *labels.shape[2:]), np.float32)
    for k in range(labels.shape[0]):
        lab = labels[k]
        vals = means[lab] + sds[lab] * rng.standard_normal(lab.shape, dtype=np.float32)
        img[k] = vals.mean(axis=0)
    img *= bias_field(rng, img.shape, cfg.bias_log_sd)
    if rng.random() < cfg.p_blur:
        s = float(rng.uniform(0.3, 1.2))
        img = ndimage.gaussian_filter(img, sigma=(0, s, s))
    if rng.random() < cfg.p_ghost:
        axis = 1 + int(rng.integers(2))
        shift = int(img.shape[axis] * rng.uniform(0.2, 0.5))
        img = img + float(rng.uniform(0.03, 0.12)) * np.roll(img, shift, axis)
    sigma = float(rng.uniform(*cfg.noise))
    img = np.hypot(img + rng.normal(0, sigma, img.shape), rng.normal(0, sigma, img.shape)).astype(np.float32)
    if rng.random() < cfg.p_partial_fov and mask.any():
        img, mask = _partial_fov(img, mask, rng)
    img = img / max(float(np.percentile(img, 99.5)), 1e-6) * float(rng.uniform(300, 3000))
    return img, mask


def _partial_fov(img: np.ndarray, mask: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Crop rows/cols to a window that still holds the whole tumour plus a few voxels."""
    idx = np.argwhere(mask)
    lo, hi = idx.min(0), idx.max(0) + 1
    out_img, out_mask = img, mask
    sl = [slice(None)] * 3
    for ax in (1, 2):
        n = img.shape[ax]
        a = int(rng.integers(0, max(1, lo[ax] - 3) + 1))
        b = int(rng.integers(min(n, hi[ax] + 3), n + 1))
        if b - a >= 32:
            sl[ax] = slice(a, b)
    return out_img[tuple(sl)].copy(), out_mask[tuple(sl)].copy()


def randomised_cohort(profile: str, n: int, out_dir: Path, seed: int = 0,
                      superficial_share: float = 0.4, small_share: float = 0.3,
                      max_matrix: int = 192) -> Path:
    """``n`` domain-randomised cases drawn from ``profile``; superficial and small (≈ 3-25 ml)
    tumours oversampled, where the bundled model failed on the hold-out."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        randomised_case(profile, i, out_dir, seed, superficial_share, small_share, max_matrix)
    return out_dir


def randomised_case(profile: str, index: int, out_dir: Path, seed: int = 0,
                    superficial_share: float = 0.4, small_share: float = 0.3,
                    max_matrix: int = 192) -> Path:
    """Case ``index`` of :func:`randomised_cohort` alone (parallel workers call this); a complete
    case already on disk is kept."""
    from node.synthetic.cohort import case_seed, render_t1_case
    from node.synthetic.draws import draw_case
    from node.synthetic.enums import Depth
    from node.synthetic.profiles import get_profile

    folder = Path(out_dir) / f"dr-{profile}-{index:04d}"
    if (folder / "truth.json").is_file():
        return folder
    cseed = case_seed("dr-" + profile, seed, index)
    rng = np.random.default_rng([cseed, 0xD0A1])
    pins: dict[str, object] = {"depth": Depth.superficial} if rng.random() < superficial_share else {}
    if rng.random() < small_share:
        pins.update(diameter_mm=float(rng.uniform(18, 35)), length_mm=float(rng.uniform(18, 40)))
    case = draw_case(get_profile(profile), cseed, **pins)
    rc = render_t1_case(case, max_matrix=max_matrix)
    image, mask = randomise(rc.sampled.labels, rc.mask, rng)
    ref = rc.sampled.grid.to_sitk(np.zeros(rc.mask.shape, np.uint8))
    img = sitk.GetImageFromArray(np.clip(image, 0, 32767).astype(np.int16))
    seg = sitk.GetImageFromArray(mask.astype(np.uint8))
    for im in (img, seg):
        im.SetSpacing(ref.GetSpacing())
        im.SetDirection(ref.GetDirection())
        im.SetOrigin(ref.GetOrigin())  # a crop keeps the spacing; training ignores the origin
    atomic.write_image(folder / "image.nii.gz", img)
    atomic.write_image(folder / "segmentation.nii.gz", seg)
    # truth.json last: it marks a complete case (a restart skips it, readers require it)
    atomic.write_text(folder / "truth.json", json.dumps({**case.as_dict(), "generator": GENERATOR,
                                                         "seed": case.seed}, default=str) + "\n")
    return folder
