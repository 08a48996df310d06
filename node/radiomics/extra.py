"""WORC feature groups that pyradiomics lacks: orientation, Gabor, vesselness, local phase.

All work on the cropped, z-scored block (numpy, z-y-x order) and the boolean lesion mask.
Filters are applied per axial slice, as WORC does for its 2-D filter banks on MRI with thick
slices; statistics are taken over the lesion voxels (vesselness also over a border rim).

- Orientation: principal axes of the mask in patient (LPS) millimetres — angles of the major
  and minor axes to the patient x/y/z axes and the three axis lengths (4·sqrt(eigenvalue)).
- Gabor: magnitude of the complex Gabor response (skimage kernel, FFT convolution).
- Vesselness: Frangi (skimage) for dark ridges — fibrous septa in fat are dark on T1.
- Local phase: monogenic signal (Felsberg & Sommer 2001) with a log-Gabor radial band-pass;
  local phase = atan2(|Riesz pair|, even part), local amplitude = norm of the triple.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, signal
from skimage.filters import frangi, gabor_kernel

from node.radiomics.settings import ExtraSettings, GaborSettings, PhaseSettings, VesselSettings

_STATS = ("Mean", "Std", "Median", "P10", "P90")


def _stats(prefix: str, values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {f"{prefix}_{s}": 0.0 for s in _STATS}
    p10, med, p90 = np.percentile(values, [10, 50, 90])
    return {f"{prefix}_Mean": float(values.mean()), f"{prefix}_Std": float(values.std()),
            f"{prefix}_Median": float(med), f"{prefix}_P10": float(p10),
            f"{prefix}_P90": float(p90)}


def orientation(mask: np.ndarray, spacing_zyx: tuple[float, float, float],
                direction: tuple[float, ...]) -> dict[str, float]:
    """Principal-axis angles (degrees, sign-free) and axis lengths (mm) of the mask."""
    idx = np.argwhere(mask)[:, ::-1].astype(np.float64)  # x, y, z index
    pts = idx * np.asarray(spacing_zyx[::-1])
    pts = pts @ np.asarray(direction, dtype=np.float64).reshape(3, 3).T
    out: dict[str, float] = {}
    cov = np.eye(3) if len(pts) < 4 else np.cov(pts, rowvar=False)
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0, None), evecs[:, order]
    for axis_name, vec in (("Major", evecs[:, 0]), ("Minor", evecs[:, 2])):
        for k, ax in enumerate("XYZ"):
            out[f"orientation_{axis_name}Angle{ax}"] = math.degrees(
                math.acos(min(1.0, abs(float(vec[k])))))
    for k, name in enumerate(("Major", "Middle", "Minor")):
        out[f"orientation_{name}Length"] = 4.0 * math.sqrt(float(evals[k]))
    return out


def gabor(arr: np.ndarray, mask: np.ndarray, cfg: GaborSettings) -> dict[str, float]:
    """First-order statistics of Gabor magnitudes per (frequency, angle), per slice."""
    out: dict[str, float] = {}
    for f in cfg.frequencies:
        for a in cfg.angles_deg:
            k = gabor_kernel(f, theta=math.radians(a))
            kh, kw = k.shape
            if kh > 2 * arr.shape[1] or kw > 2 * arr.shape[2]:  # kernel far beyond the block
                k = k[max(0, kh // 2 - arr.shape[1]): kh // 2 + arr.shape[1] + 1,
                      max(0, kw // 2 - arr.shape[2]): kw // 2 + arr.shape[2] + 1]
            resp = signal.fftconvolve(arr, k[None], mode="same", axes=(1, 2))
            mag = np.abs(resp)
            out.update(_stats(f"gabor_F{f:g}A{a:g}", mag[mask]))
    return out


def vesselness(arr: np.ndarray, mask: np.ndarray, cfg: VesselSettings) -> dict[str, float]:
    """Frangi vesselness (dark ridges) inside the lesion and in a rim around its border."""
    v = np.stack([frangi(s, sigmas=cfg.sigmas_px, black_ridges=True) for s in arr])
    st = ndimage.generate_binary_structure(3, 1)
    st[0] = st[2] = False  # in-plane only
    rim = ndimage.binary_dilation(mask, st, cfg.rim_px) & ~ndimage.binary_erosion(
        mask, st, cfg.rim_px)
    out = {}
    for region, sel in (("Lesion", mask), ("Rim", rim)):
        vals = v[sel]
        out[f"vessel_{region}_Mean"] = float(vals.mean()) if vals.size else 0.0
        out[f"vessel_{region}_Std"] = float(vals.std()) if vals.size else 0.0
        out[f"vessel_{region}_Max"] = float(vals.max()) if vals.size else 0.0
    return out


def _monogenic(sl_fft: np.ndarray, u: np.ndarray, v: np.ndarray, wavelength: float,
               sigma_on_f: float) -> tuple[np.ndarray, np.ndarray]:
    radius = np.sqrt(u * u + v * v)
    radius[0, 0] = 1.0
    f0 = 1.0 / wavelength
    lg = np.exp(-(np.log(radius / f0) ** 2) / (2 * math.log(sigma_on_f) ** 2))
    lg[0, 0] = 0.0
    h1, h2 = 1j * u / radius, 1j * v / radius
    band = sl_fft * lg
    even = np.real(np.fft.ifft2(band))
    o1 = np.real(np.fft.ifft2(band * h1))
    o2 = np.real(np.fft.ifft2(band * h2))
    odd = np.sqrt(o1 * o1 + o2 * o2)
    return np.arctan2(odd, even), np.sqrt(even * even + odd * odd)


def local_phase(arr: np.ndarray, mask: np.ndarray, cfg: PhaseSettings) -> dict[str, float]:
    """Statistics of monogenic local phase and amplitude per wavelength, per slice."""
    ny, nx = arr.shape[1:]
    v, u = np.meshgrid(np.fft.fftfreq(ny), np.fft.fftfreq(nx), indexing="ij")
    ffts = np.fft.fft2(arr, axes=(1, 2))
    out: dict[str, float] = {}
    for wl in cfg.wavelengths_px:
        phase = np.empty(arr.shape)
        amp = np.empty(arr.shape)
        for z in range(arr.shape[0]):
            phase[z], amp[z] = _monogenic(ffts[z], u, v, wl, cfg.sigma_on_f)
        out.update(_stats(f"phase_W{wl:g}_Phase", phase[mask]))
        out.update(_stats(f"phase_W{wl:g}_Amplitude", amp[mask]))
    return out


def compute(arr: np.ndarray, mask: np.ndarray, spacing_zyx: tuple[float, float, float],
            cfg: ExtraSettings, direction: tuple[float, ...]) -> dict[str, float]:
    """Every enabled extra group, names prefixed by their group."""
    out: dict[str, float] = {}
    if cfg.orientation:
        out.update(orientation(mask, spacing_zyx, direction))
    if cfg.gabor is not None:
        out.update(gabor(arr, mask, cfg.gabor))
    if cfg.vesselness is not None:
        out.update(vesselness(arr, mask, cfg.vesselness))
    if cfg.phase is not None:
        out.update(local_phase(arr, mask, cfg.phase))
    return out
