"""PNG montage of a WORC-layout cohort: each case's slice with the most tumour, truth outlined.

Used for docs/synthetic/ (domain-randomised training cases, hold-out cases): a reader sees at a
glance what the network is trained and measured on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)


def _title(case: Path, mask: np.ndarray, spacing: tuple[float, ...]) -> str:
    for name in ("meta.json", "truth.json"):
        if (case / name).is_file():
            m = json.loads((case / name).read_text(encoding="utf-8"))
            break
    else:
        m = {}
    ml = float(mask.sum()) * float(np.prod(spacing)) / 1000
    return " ".join(str(v) for v in (m.get("region", m.get("location", "")), m.get("depth", ""),
                                     m.get("vendor", ""), m.get("plane", ""), f"{ml:.0f} ml"))


def cohort_montage(cohort_dir: Path, out_png: Path, n: int = 12, cols: int = 4) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = sorted(p for p in Path(cohort_dir).iterdir() if (p / "image.nii.gz").is_file())[:n]
    rows = max(1, -(-len(cases) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, case in zip(axes.ravel(), cases, strict=False):
        img = sitk.ReadImage(str(case / "image.nii.gz"))
        arr = sitk.GetArrayFromImage(img)
        mask = sitk.GetArrayFromImage(sitk.ReadImage(str(case / "segmentation.nii.gz")))
        k = int(np.argmax(mask.sum(axis=(1, 2))))
        sx, sy, _ = img.GetSpacing()
        ax.imshow(arr[k], cmap="gray", aspect=sy / sx)
        if mask[k].any():
            ax.contour(mask[k], [0.5], colors="r", linewidths=0.7)
        ax.set_title(_title(case, mask, img.GetSpacing()), fontsize=7)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=72)
    plt.close(fig)
    return out_png
