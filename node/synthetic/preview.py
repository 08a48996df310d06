"""``lipo-node synth preview``: one PNG with a slice of every series and the truth contour on T1.

Series are read back with SimpleITK's DICOM series reader (classic) or pydicom (Enhanced,
multi-frame), i.e. the same way a consumer would, so the picture also shows that the files
decode. The T1 panel is the slice holding most of the mask; other panels show their middle
slice, titled with SeriesDescription (or "<empty>") and the key timing tags.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 (the library's own convention)


def _read_series(folder: Path) -> tuple[np.ndarray, pydicom.Dataset]:
    files = sorted(p for p in folder.iterdir() if p.suffix == ".dcm")
    first = pydicom.dcmread(files[0])
    if len(files) == 1 and int(first.get("NumberOfFrames", 1)) > 1:
        return first.pixel_array, first
    iops = {tuple(pydicom.dcmread(p, stop_before_pixels=True).ImageOrientationPatient) for p in files}
    if len(iops) > 1:  # a 3-plane localizer is no volume: plain instance order
        return np.stack([pydicom.dcmread(p).pixel_array for p in files]), first
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute()), first


def _title(ds: pydicom.Dataset) -> str:
    desc = str(ds.get("SeriesDescription", "")) or "<empty>"
    tr = ds.get("RepetitionTime")
    if tr is None and "SharedFunctionalGroupsSequence" in ds:
        timing = ds.SharedFunctionalGroupsSequence[0].get("MRTimingAndRelatedParametersSequence")
        tr = timing[0].RepetitionTime if timing else None
    return f"{ds.SeriesNumber} {desc}\nTR {float(tr):.0f}" if tr is not None else f"{ds.SeriesNumber} {desc}"


def preview_study(study: Path, out_png: Path) -> Path:
    """Write the montage of ``study`` to ``out_png`` and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    study = Path(study)
    meta = json.loads((study / "truth" / "meta.json").read_text())
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(study / "truth" / "mask.nii.gz")))
    folders = [study / s["folder"] for s in meta["series"]]
    fig, axes = plt.subplots(1, len(folders), figsize=(3.2 * len(folders), 3.8))
    for ax, folder, info in zip(np.atleast_1d(axes), folders, meta["series"], strict=True):
        vol, ds = _read_series(folder)
        if info["role"] == "t1" and mask.any():
            k = int(np.argmax(mask.sum(axis=(1, 2))))
            ax.imshow(vol[k], cmap="gray")
            ax.contour(mask[k], [0.5], colors="red", linewidths=0.8)
        else:
            ax.imshow(vol[len(vol) // 2], cmap="gray")
        ax.set_title(_title(ds) + ("  [T1]" if info["role"] == "t1" else ""), fontsize=7)
        ax.axis("off")
    fig.suptitle(
        f"seed {meta['seed']} {meta['vendor']} {meta['field_strength']} T  {meta['label']} "
        f"{meta['location']} {meta['depth']} {meta['diameter_mm']:.0f} mm {meta['volume_ml']:.0f} ml",
        fontsize=9,
    )
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=80)
    plt.close(fig)
    return out_png
