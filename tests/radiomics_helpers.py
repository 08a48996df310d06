"""Small phantoms for radiomics/classify tests: ellipsoid lesions in noisy backgrounds.

"ALT" phantoms are larger and carry dark septa (stripes) inside the lesion, "lipoma"
phantoms are smaller and homogeneous — enough signal for a classifier to find.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813


def ellipsoid_case(seed: int, alt: bool, shape_zyx: tuple[int, int, int] = (12, 64, 64),
                   spacing_xyz: tuple[float, float, float] = (0.8, 0.8, 4.0)
                   ) -> tuple[sitk.Image, sitk.Image]:
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape_zyx
    zz, yy, xx = np.mgrid[:nz, :ny, :nx]
    r = rng.uniform(14, 20) if alt else rng.uniform(8, 13)
    cz, cy, cx = nz / 2 + rng.uniform(-1, 1), ny / 2 + rng.uniform(-3, 3), nx / 2
    m = ((xx - cx) / r) ** 2 + ((yy - cy) / (0.8 * r)) ** 2 + ((zz - cz) / (nz / 3)) ** 2 < 1
    img = rng.normal(100, 10, shape_zyx)
    img[m] = rng.normal(300, 8, int(m.sum()))
    if alt:
        septa = m & ((xx % 6) < 2)
        img[septa] -= rng.uniform(60, 120)
    image = sitk.GetImageFromArray(img.astype(np.float32))
    image.SetSpacing(spacing_xyz)
    mask = sitk.GetImageFromArray(m.astype(np.uint8))
    mask.CopyInformation(image)
    return image, mask


def write_phantom_cohort(root: Path, n: int, seed: int = 0) -> Path:
    """WORC layout: <root>/<Patient>/image.nii.gz + segmentation.nii.gz, labels.csv."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = ["Patient,label,age,sex,location,depth,volume_ml"]
    for i in range(n):
        alt = i % 2 == 0
        pid = f"P{i:03d}"
        image, mask = ellipsoid_case(seed * 1000 + i, alt)
        (root / pid).mkdir(exist_ok=True)
        sitk.WriteImage(image, str(root / pid / "image.nii.gz"))
        sitk.WriteImage(mask, str(root / pid / "segmentation.nii.gz"))
        vol = float(sitk.GetArrayViewFromImage(mask).sum()) * np.prod(image.GetSpacing()) / 1000
        rows.append(f"{pid},{'alt' if alt else 'lipoma'},{int(rng.normal(60, 12))},"
                    f"{'M' if rng.random() < 0.5 else 'F'},"
                    f"{rng.choice(['thigh', 'arm', 'trunk'])},"
                    f"{'deep' if rng.random() < 0.8 else 'superficial'},{vol:.2f}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root
