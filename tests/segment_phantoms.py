"""Fallback limb phantoms for the segmentation demo (used only while the synthetic twin of
SYNTHETIC.md is unavailable): T1-weighted-like volumes of a limb (skin, subcutaneous fat,
muscle, bone with fatty marrow, fatty streaks) holding a lobulated fatty tumour with capsule and
septa (thicker septa and non-fatty nodules for ALT), with partial volume across thick slices,
bias field and Rician noise. Written in WORC layout so ``lipo-node train-seg`` can use them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

FAT, MUSCLE, SKIN, CORTEX, MARROW, SEPTUM = 1.0, 0.33, 0.45, 0.03, 0.9, 0.3


def _ellipse_r(u: np.ndarray, v: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.sqrt((u / a) ** 2 + (v / b) ** 2)


def render_phantom(
    seed: int, label: str | None = None, superficial: bool | None = None, n_tumours: int = 1
):
    """Return ``(image, mask, spacing_xyz, meta)``; arrays are (z, y, x).

    ``n_tumours`` 0 or 2 builds QC cases (no tumour / two tumours); the random draws of the
    first tumour are the same, so seed ``s`` with 0 tumours is seed ``s``'s limb alone.
    """
    if n_tumours not in (0, 1, 2):
        raise ValueError("n_tumours must be 0, 1 or 2")
    rng = np.random.default_rng(seed)
    label = label or ("alt" if rng.random() < 0.5 else "lipoma")
    superficial = (rng.random() < 0.2) if superficial is None else superficial
    coronal = rng.random() < 0.3
    n_in = int(rng.choice([192, 224, 256]))
    n_sl = int(rng.integers(20, 37))
    s_in = float(rng.uniform(0.8, 1.4))
    s_sl = float(rng.uniform(4.0, 6.0))
    sub = 3  # partial-volume supersampling across the thick slice
    # world axes: X (left-right), Y (ant-post), Z (limb axis); array axes depend on plane
    ax_sl = (np.arange(n_sl * sub) - (n_sl * sub - 1) / 2) * s_sl / sub
    ax_in = (np.arange(n_in) - (n_in - 1) / 2) * s_in
    if coronal:  # slices along Y, rows along Z, columns along X
        Y, Z, X = np.meshgrid(ax_sl, ax_in, ax_in, indexing="ij")
    else:  # axial: slices along Z
        Z, Y, X = np.meshgrid(ax_sl, ax_in, ax_in, indexing="ij")
    a = float(rng.uniform(55, 90))
    b = a * float(rng.uniform(0.8, 1.0))
    taper = 1.0 + 0.002 * Z
    fat_t = float(rng.uniform(6, 30)) if not superficial else float(rng.uniform(18, 35))
    r_outer = _ellipse_r(X, Y, a * taper, b * taper)
    r_muscle = _ellipse_r(X, Y, (a - 2 - fat_t) * taper, (b - 2 - fat_t) * taper)
    img = np.zeros(X.shape, np.float32)
    img[r_outer <= 1.0] = SKIN
    img[r_outer <= 1.0 - 2.0 / a] = FAT
    img[r_muscle <= 1.0] = MUSCLE
    img[np.abs(r_muscle - 1.0) < 1.0 / a] = SEPTUM  # fascia
    for _ in range(int(rng.integers(2, 6))):  # intramuscular fat streaks
        cx, cy = rng.uniform(-0.5, 0.5, 2) * (a - fat_t)
        streak = _ellipse_r(X - cx, Y - cy, rng.uniform(1, 3), rng.uniform(4, 12)) <= 1
        img[streak & (r_muscle <= 0.95)] = FAT * 0.9
    bx, by = rng.uniform(-0.25, 0.25, 2) * (a - fat_t)
    rb = float(rng.uniform(10, 16))
    rbone = np.sqrt((X - bx) ** 2 + (Y - by) ** 2)
    img[rbone <= rb] = CORTEX
    img[rbone <= rb - rng.uniform(3, 5)] = MARROW
    # tumour: union of lobes around a centre, inside the limb and away from bone
    diam = float(np.clip(rng.lognormal(np.log(95 if label == "alt" else 66), 0.35), 30, 150))
    diam = min(diam, 1.6 * (a - 4), n_sl * s_sl * 0.9 if not coronal else 1e9)
    for _ in range(50):
        ang = rng.uniform(0, 2 * np.pi)
        rad = (a - 2 - fat_t / 2) if superficial else rng.uniform(0.0, 0.6) * (a - fat_t)
        c = np.array([rad * np.cos(ang), rad * np.sin(ang) * b / a, rng.uniform(-0.2, 0.2) * n_sl * s_sl])
        if np.hypot(c[0] - bx, c[1] - by) > rb + 0.25 * diam:
            break
    if coronal:
        c[1] = rng.uniform(-0.2, 0.2) * n_sl * s_sl
    lobes = np.zeros(X.shape, bool)
    radii_main = diam / 2 * rng.uniform(0.6, 1.0, 3)
    radii_main[2] = diam / 2 * rng.uniform(0.8, 1.3)  # longer along the limb
    if superficial:
        radii_main[:2] = np.minimum(radii_main[:2], fat_t * 1.2)
    for k in range(int(rng.integers(2, 5))):
        off = rng.normal(0, 0.25, 3) * radii_main if k else np.zeros(3)
        rr = radii_main * (rng.uniform(0.5, 0.8) if k else 1.0)
        d = ((X - c[0] - off[0]) / rr[0]) ** 2 + ((Y - c[1] - off[1]) / rr[1]) ** 2 \
            + ((Z - c[2] - off[2]) / rr[2]) ** 2
        lobes |= d <= 1.0
    lobes &= r_outer <= 1.0 - 3.0 / a
    lobes &= rbone > rb + 2
    from scipy import ndimage

    background = img.copy()
    dist_in = ndimage.distance_transform_edt(lobes, sampling=(s_sl / sub, s_in, s_in))
    tumour_sig = FAT * float(rng.uniform(0.9, 1.0))
    img[lobes] = tumour_sig
    img[lobes & (dist_in <= 1.2)] = SEPTUM  # capsule
    thick = rng.uniform(2.5, 5.0) if label == "alt" else rng.uniform(0.6, 1.8)
    for _ in range(int(rng.integers(2, 7) if label == "alt" else rng.integers(0, 3))):
        nvec = rng.normal(size=3)
        nvec /= np.linalg.norm(nvec)
        plane = np.abs((X - c[0]) * nvec[0] + (Y - c[1]) * nvec[1] + (Z - c[2]) * nvec[2]
                       - rng.uniform(-0.4, 0.4) * diam / 2)
        img[lobes & (plane <= thick / 2)] = SEPTUM
    if label == "alt":
        for _ in range(int(rng.integers(0, 4))):
            p = c + rng.normal(0, 0.3, 3) * radii_main
            rn = rng.uniform(4, 12)
            img[lobes & (((X - p[0]) ** 2 + (Y - p[1]) ** 2 + (Z - p[2]) ** 2) <= rn * rn)] = 0.45
    if n_tumours == 0:
        img, lobes = background, np.zeros_like(lobes)
    elif n_tumours == 2:  # a smaller second lipoma on the far side of the limb, same slices
        c2 = np.array([-c[0], -c[1], c[2]])
        if np.hypot(*(c2[:2] - c[:2])) < diam:
            c2[2] = c[2] + 1.2 * diam * (1 if c[2] < 0 else -1)
        r2 = 0.8 * radii_main
        second = (((X - c2[0]) / r2[0]) ** 2 + ((Y - c2[1]) / r2[1]) ** 2
                  + ((Z - c2[2]) / r2[2]) ** 2) <= 1.0
        apart = ~ndimage.binary_dilation(lobes, iterations=3)
        second &= (r_outer <= 1.0 - 3.0 / a) & (rbone > rb + 2) & apart
        d2 = ndimage.distance_transform_edt(second, sampling=(s_sl / sub, s_in, s_in))
        img[second] = tumour_sig
        img[second & (d2 <= 1.2)] = SEPTUM
        lobes = lobes | second
    # partial volume across the slice, then bias field and Rician noise
    img = img.reshape(n_sl, sub, n_in, n_in).mean(axis=1)
    mask = lobes.reshape(n_sl, sub, n_in, n_in).mean(axis=1) >= 0.5
    g = np.linspace(-1, 1, n_in)
    bias = 1 + rng.uniform(-0.25, 0.25) * g[None, :, None] + rng.uniform(-0.25, 0.25) * g[None, None, :] \
        + rng.uniform(-0.1, 0.1) * np.linspace(-1, 1, n_sl)[:, None, None]
    snr = float(rng.uniform(15, 40))
    sig = img * bias
    noisy = np.sqrt((sig + rng.normal(0, 1 / snr, sig.shape)) ** 2 + rng.normal(0, 1 / snr, sig.shape) ** 2)
    scale = float(rng.uniform(1500, 3000))
    image = np.clip(noisy * scale, 0, 4095).astype(np.int16)
    meta = {"label": label, "superficial": superficial, "coronal": coronal, "diameter_mm": round(diam, 1)}
    return image, mask.astype(np.uint8), (s_in, s_in, s_sl), meta


def write_phantom_cohort(out: Path, n: int, seed0: int) -> Path:
    """``n`` phantoms in WORC layout with ``labels.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        image, mask, spacing, meta = render_phantom(seed0 + i)
        case = out / f"Phantom-{seed0 + i:05d}"
        case.mkdir(exist_ok=True)
        for arr, name in ((image, "image.nii.gz"), (mask, "segmentation.nii.gz")):
            itk = sitk.GetImageFromArray(arr)
            itk.SetSpacing(spacing)
            sitk.WriteImage(itk, str(case / name))
        rows.append({"Patient": case.name, "label": meta["label"],
                     "location": "superficial" if meta["superficial"] else "deep",
                     "volume_ml": round(float(mask.sum()) * float(np.prod(spacing)) / 1000, 1)})
    with (out / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out
