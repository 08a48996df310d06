"""Sample the phantom on a series grid and form the MR image of one protocol.

Partial volume: each voxel is sampled at ``sub_inplane^2 * sub_slice`` points (>= 3x across
the slice thickness, where voxels are coarsest) and the signal is the mean over its points.
The acquisition then adds what a scanner adds (SYNTHETIC.md "Acquisition"): a smooth
B1/receive-coil bias field of +-20-30 %, incomplete spectral fat saturation away from the
isocentre, occasional motion ghosts along the phase-encoding direction, Rician noise
(magnitude of complex Gaussian noise; Gudbjartsson & Patz, MRM 1995) at SNR 15-40, and
12-bit quantisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from node.synthetic.anatomy import Phantom, label_points
from node.synthetic.enums import TUMOUR_TISSUES, Tissue
from node.synthetic.grid import Grid
from node.synthetic.physics import Protocol, signal_table


@dataclass(frozen=True)
class Sampled:
    """Supersampled labels of one grid, (slices, points per voxel, rows, cols)."""

    grid: Grid
    labels: np.ndarray

    @property
    def tumour_fraction(self) -> np.ndarray:
        return np.isin(self.labels, np.array(TUMOUR_TISSUES, dtype=np.uint8)).mean(axis=1, dtype=np.float32)

    def mask(self) -> np.ndarray:
        """Ground truth: voxels at least half tumour (uint8, 0/1)."""
        return (self.tumour_fraction >= 0.5).astype(np.uint8)

    def fraction(self, tissue: Tissue) -> np.ndarray:
        return (self.labels == tissue).mean(axis=1, dtype=np.float32)


def _fine_box(ph: Phantom, grid: Grid, margin: int = 3) -> tuple[slice, slice, slice] | None:
    """Index window (k, j, i) around all tumours, where the truth mask needs full sampling."""
    if not ph.tumours:
        return None
    signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1], indexing="ij")).reshape(3, -1).T
    corners = np.concatenate([np.asarray(t.centre) + (signs * t.bbox_half()) @ t.rot.T.astype(float)
                              for t in ph.tumours])
    idx = grid.to_index(corners)
    lo = np.floor(idx.min(0)).astype(int) - margin
    hi = np.ceil(idx.max(0)).astype(int) + margin + 1
    nz, ny, nx = grid.shape
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [nx, ny, nz])
    if np.any(hi <= lo):
        return None
    return slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0])


def sample(ph: Phantom, grid: Grid, sub_inplane: int = 2, sub_slice: int = 3) -> Sampled:
    """Label points of every voxel: ``sub_inplane^2 * sub_slice`` around the tumours, and
    ``sub_slice`` points (repeated) elsewhere, where anatomy is smooth at pixel scale; partial
    volume across the thick slice is always sampled."""
    nz, ny, nx = grid.shape
    rep = sub_inplane**2
    out = np.empty((nz, sub_slice * rep, ny, nx), dtype=np.uint8)
    box = _fine_box(ph, grid)
    for k in range(nz):
        coarse = label_points(ph, grid.points(k, 1, sub_slice))
        out[k] = np.repeat(coarse, rep, axis=0)
        if box is not None and box[0].start <= k < box[0].stop:
            out[k][:, box[1], box[2]] = label_points(
                ph, grid.points(k, sub_inplane, sub_slice, rows=box[1], cols=box[2]))
    return Sampled(grid=grid, labels=out)


@dataclass(frozen=True)
class Acquisition:
    """Per-series imperfections; draw with :func:`draw_acquisition`."""

    snr: float
    bias_coef: tuple[float, ...]
    fat_sat_eff: float
    ghost: float            # 0 = none
    ghost_shift: int
    phase_axis: int         # 1 = rows (j), 2 = columns (i)
    max_value: float        # 12-bit target of the 99.5th percentile
    noise_seed: int


def draw_acquisition(rng: np.random.Generator) -> Acquisition:
    return Acquisition(
        snr=float(rng.uniform(15, 40)), bias_coef=tuple(float(v) for v in rng.normal(0, 0.12, 9)),
        fat_sat_eff=float(rng.uniform(0.88, 0.98)),
        ghost=float(rng.uniform(0.03, 0.08)) if rng.random() < 0.15 else 0.0,
        ghost_shift=int(rng.integers(3, 7)), phase_axis=int(rng.choice([1, 2])),
        max_value=float(rng.uniform(1200, 3800)), noise_seed=int(rng.integers(0, 2**31)),
    )


def _voxel_lps(grid: Grid) -> np.ndarray:
    """LPS of voxel centres relative to the grid centre, (nz, ny, nx, 3), in units of 150 mm."""
    nz, ny, nx = grid.shape
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    idx = np.stack([(i - (nx - 1) / 2) * grid.pixel_mm[1], (j - (ny - 1) / 2) * grid.pixel_mm[0],
                    (k - (nz - 1) / 2) * grid.slice_spacing_mm], axis=-1).astype(np.float32)
    return idx @ grid.direction.T.astype(np.float32) / 150.0


def bias_field(grid: Grid, coef: tuple[float, ...]) -> np.ndarray:
    """exp of a second-order polynomial in LPS: smooth, positive, about +-25 % over a limb."""
    p = _voxel_lps(grid)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    terms = (x, y, z, x * x, y * y, z * z, x * y, x * z, y * z)
    log_b = sum(c * t for c, t in zip(coef, terms, strict=True))
    return np.exp(np.clip(log_b, -0.35, 0.35)).astype(np.float32)


def form_image(s: Sampled, proto: Protocol, field_t: float, acq: Acquisition,
               tumour_fat_t1_scale: float = 1.0) -> np.ndarray:
    """The magnitude image (uint16, 12-bit range) of ``proto`` on the sampled grid."""
    sig, fat = signal_table(proto, field_t, tumour_fat_t1_scale)
    water_lut, fat_lut = sig * (1 - fat), sig * fat
    water = water_lut[s.labels].mean(axis=1, dtype=np.float32)
    fatsig = fat_lut[s.labels].mean(axis=1, dtype=np.float32)
    if proto.fat_sat:
        r2 = (_voxel_lps(s.grid) ** 2).sum(-1)
        eff = np.clip(acq.fat_sat_eff - 0.35 * r2, 0.4, 0.99)
        fatsig = fatsig * (1 - eff)
    img = (water + fatsig) * bias_field(s.grid, acq.bias_coef)
    if acq.ghost > 0:
        n = img.shape[acq.phase_axis]
        img = img + acq.ghost * (np.roll(img, n // acq.ghost_shift, axis=acq.phase_axis)
                                 + np.roll(img, -n // acq.ghost_shift, axis=acq.phase_axis)) / 2
    body = img[img > 0.05 * img.max()] if img.max() > 0 else img.ravel()
    sigma = float(body.mean() / acq.snr) if body.size else 1e-3
    rng = np.random.default_rng(acq.noise_seed)
    n1 = rng.normal(0, sigma, img.shape).astype(np.float32)
    n2 = rng.normal(0, sigma, img.shape).astype(np.float32)
    img = np.sqrt((img + n1) ** 2 + n2**2)
    top = float(np.percentile(img, 99.5)) or 1.0
    return np.clip(np.rint(img * (acq.max_value / top)), 0, 4095).astype(np.uint16)
