"""Job-pipeline stage ``radiomics``: features of the tumour on the selected T1 series.

Reads the series again (exact DICOM geometry, :mod:`node.segment.geometry`) and the mask the
segment stage (or a reviewer's correction) left in the job folder, and writes
``features.json`` (a :class:`FeatureVector` with the settings hash the classifier checks).
The longest axial diameter is measured here too, because the SR reports it next to P(ALT).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.radiomics.features import FeatureVector, extract
from node.radiomics.settings import load_settings
from node.segment.geometry import read_series, to_sitk

if TYPE_CHECKING:
    from node.jobs.pipeline import JobContext

FEATURES_FILE = "features.json"
MASK_FILE = "mask.nii.gz"
SEQUENCES_FILE = "sequences.json"


def longest_axial_diameter_mm(mask: sitk.Image) -> float:
    """Largest in-slice (rows × columns plane) distance between two mask voxels, in mm.

    Computed on each slice's boundary points with physical spacing; slices are the
    acquisition planes, the reading radiologists' "axial" measurement for axial series.
    """
    arr = sitk.GetArrayViewFromImage(mask) > 0
    sy, sx = mask.GetSpacing()[1], mask.GetSpacing()[0]
    best = 0.0
    for z in np.flatnonzero(arr.reshape(arr.shape[0], -1).any(axis=1)):
        ys, xs = np.nonzero(arr[z])
        pts = np.stack([ys * sy, xs * sx], axis=1)
        if len(pts) > 2000:  # boundary-ish subsample keeps this O(n²) step small
            pts = pts[np.random.default_rng(0).choice(len(pts), 2000, replace=False)]
        d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)).max()
        best = max(best, float(d))
    return round(best, 1)


def radiomics_stage(ctx: JobContext) -> None:
    datasets = [pydicom.dcmread(str(p)) for p in ctx.series_paths()]
    volume = read_series(datasets)
    image = to_sitk(volume.array.astype(np.float32), volume.geometry)
    mask = sitk.ReadImage(str(ctx.job_dir / ctx.result.artefacts.get("mask", MASK_FILE)))
    mask.CopyInformation(image)  # same grid by construction; guards against float noise
    settings = load_settings(ctx.cfg.radiomics.params_file)
    if ctx.cfg.classify.model == "multi_sequence":
        features = _multi_sequence(ctx, image, mask, settings)
    else:
        features = extract(image, mask, settings)
    tmp = ctx.job_dir / (FEATURES_FILE + ".tmp")
    features.to_file(tmp)
    os.replace(tmp, ctx.job_dir / FEATURES_FILE)
    ctx.result.artefacts["features"] = FEATURES_FILE
    ctx.result.diameter_mm = longest_axial_diameter_mm(mask)


def _multi_sequence(ctx: JobContext, image: sitk.Image, mask: sitk.Image, settings
                    ) -> FeatureVector:
    """T1 + the study's T1-FS / T1-GD / T2 series (registered, mask carried over); writes
    ``sequences.json`` (slot -> series, registration outcome) for the report."""
    from dataclasses import asdict

    from node.radiomics.multiseq import SLOT_NAMES, extract_multi
    from node.radiomics.register import load_registration
    from node.radiomics.sequences import choose_sequences

    chosen = choose_sequences(ctx.study, str(ctx.result.series_uid), ctx.cfg.select.rules)
    images = {}
    for slot, c in chosen.items():
        vol = read_series([pydicom.dcmread(str(p)) for p in ctx.series_paths(c.series_uid)])
        images[slot] = to_sitk(vol.array.astype(np.float32), vol.geometry)
    out = extract_multi(image, mask, images, settings,
                        load_registration(ctx.cfg.radiomics.registration_file))
    info = {"used": ["T1", *(SLOT_NAMES[s] for s in out.used)],
            "series": {s: asdict(c) for s, c in chosen.items()},
            "outcomes": [asdict(o) for o in out.outcomes]}
    tmp = ctx.job_dir / (SEQUENCES_FILE + ".tmp")
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, ctx.job_dir / SEQUENCES_FILE)
    ctx.result.artefacts["sequences"] = SEQUENCES_FILE
    return out.vector
