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


def labelmap_montage(out_png: Path, n: int = 12, seed: int = 0, max_matrix: int = 256, cols: int = 4) -> Path:
    """Random label-map cases (node/synthetic/labelmaps.py): label map and randomised image side
    by side on the slice with most tumour, truth outlined, so a reader sees the anatomy model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from node.synthetic.enums import Tissue
    from node.synthetic.labelmaps import draw_labelmap
    from node.synthetic.randomise import randomise

    colours = ["#000000", "#f4c7a1", "#f5d142", "#5a8fd6", "#b5322f", "#e8a33d", "#ffffff", "#e06fb0",
               "#7b2fbf", "#6d6d6d", "#3fd0e0", "#48c048", "#1d6b1d", "#0a3d0a", "#00ff9c"]
    cmap = ListedColormap(colours[: len(Tissue)])
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, 2 * cols, figsize=(2.6 * 2 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        rng = np.random.default_rng([seed, i, 0x9E])
        lm = draw_labelmap(rng, max_matrix=max_matrix)
        image, mask = randomise(lm.labels, lm.mask, rng)
        k = int(np.argmax(lm.mask.sum(axis=(1, 2))))
        a, b = axes[i // cols, 2 * (i % cols)], axes[i // cols, 2 * (i % cols) + 1]
        a.imshow(lm.labels[k, lm.labels.shape[1] // 2], cmap=cmap, vmin=-0.5, vmax=len(Tissue) - 0.5,
                 interpolation="nearest")
        kk = int(np.argmax(mask.sum(axis=(1, 2))))
        b.imshow(image[kk], cmap="gray")
        if mask[kk].any():
            b.contour(mask[kk], [0.5], colors="r", linewidths=0.6)
        m = lm.meta
        a.set_title(f"{m['region']} {m['depth_detail']} {m['volume_ml']:.0f} ml", fontsize=7)
        b.set_title(f"{lm.spacing[1]:.2f} mm, {lm.spacing[0]:.1f} mm slices", fontsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[t]) for t in range(len(Tissue))]
    fig.legend(handles, [t.name for t in Tissue], loc="lower center", ncol=len(Tissue), fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=72)
    plt.close(fig)
    return out_png
