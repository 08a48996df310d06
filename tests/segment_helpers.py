"""Small self-made data for segment/qc tests: WORC-style cohorts and DICOM series.

The cohorts are deliberately tiny (a bright lobulated blob in a noisy, biased background) so the
smoke training runs in seconds; they are not a stand-in for the synthetic twin of SYNTHETIC.md.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)


def blob_case(
    shape: tuple[int, int, int], seed: int, spacing: tuple[float, float, float] = (4.0, 1.5, 1.5)
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(image, mask)`` arrays (z, y, x): an ellipsoid of high signal in a noisy body."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    centre = [rng.uniform(0.35, 0.65) * n for n in shape]
    radii_mm = rng.uniform(12.0, 25.0, size=3)
    radii = [r / s for r, s in zip(radii_mm, spacing, strict=True)]
    dist = sum(((c - m) / r) ** 2 for c, m, r in zip((zz, yy, xx), centre, radii, strict=True))
    mask = (dist <= 1.0).astype(np.uint8)
    body = np.full(shape, 300.0)
    body += 100.0 * np.sin(xx / shape[2] * np.pi)  # smooth bias field
    image = body + 600.0 * mask + rng.normal(0.0, 40.0, size=shape)
    return image.astype(np.float32), mask


def make_tiny_cohort(out: Path, n: int, seed: int = 0, shape: tuple[int, int, int] = (16, 48, 48)) -> Path:
    """Write ``n`` blob cases in WORC layout (``<Patient>/image.nii.gz``, ``segmentation.nii.gz``)."""
    out.mkdir(parents=True, exist_ok=True)
    spacing_zyx = (4.0, 1.5, 1.5)
    rows = []
    for i in range(n):
        image, mask = blob_case(shape, seed * 1000 + i, spacing_zyx)
        case = out / f"Blob-{i:03d}"
        case.mkdir(exist_ok=True)
        for arr, name in ((image, "image.nii.gz"), (mask, "segmentation.nii.gz")):
            img = sitk.GetImageFromArray(arr)
            img.SetSpacing(tuple(reversed(spacing_zyx)))
            sitk.WriteImage(img, str(case / name))
        rows.append({"Patient": case.name, "label": "lipoma"})
    with (out / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["Patient", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return out
