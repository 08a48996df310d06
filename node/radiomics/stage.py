"""Job-pipeline stage ``radiomics``: features of the tumour on the selected T1 series.

Reads the series again (exact DICOM geometry, :mod:`node.segment.geometry`) and the mask the
segment stage (or a reviewer's correction) left in the job folder, and writes
``features.json`` (a :class:`FeatureVector` with the settings hash the classifier checks).
The longest axial diameter (:mod:`node.radiomics.diameter`) is measured here too, because the SR
reports it next to P(ALT).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.jobs.model import JobState
from node.jobs.pipeline import register_stage
from node.radiomics.diameter import longest_axial_diameter_mm
from node.radiomics.features import FeatureVector, extract
from node.radiomics.settings import load_settings
from node.segment.geometry import read_series, to_sitk

if TYPE_CHECKING:
    from node.jobs.pipeline import JobContext


def radiomics_stage(ctx: JobContext) -> None:
    from node.jobs.folder import Artefact

    datasets = [pydicom.dcmread(str(p)) for p in ctx.series_paths()]
    volume = read_series(datasets)
    image = to_sitk(volume.array.astype(np.float32), volume.geometry)
    mask = sitk.ReadImage(str(ctx.folder / ctx.result.artefacts.get("mask", Artefact.MASK)))
    mask.CopyInformation(image)  # same grid by construction; guards against float noise
    settings = load_settings(ctx.cfg.radiomics.params_file)
    if ctx.cfg.classify.model == "multi_sequence":
        features = _multi_sequence(ctx, image, mask, settings)
    else:
        features = extract(image, mask, settings)
    ctx.folder.write_text(Artefact.FEATURES, features.to_json())
    ctx.result.artefacts["features"] = Artefact.FEATURES.value
    ctx.result.diameter_mm = longest_axial_diameter_mm(mask)


def _multi_sequence(ctx: JobContext, image: sitk.Image, mask: sitk.Image, settings
                    ) -> FeatureVector:
    """T1 + the study's T1-FS / T1-GD / T2 series (registered, mask carried over); writes
    ``sequences.json`` (slot -> series, registration outcome) for the report."""
    from dataclasses import asdict

    from node.jobs.folder import Artefact
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
    ctx.folder.write_text(Artefact.SEQUENCES, json.dumps(info, indent=1))
    ctx.result.artefacts["sequences"] = Artefact.SEQUENCES.value
    return out.vector


register_stage("radiomics", JobState.FEATURES, "node.radiomics.stage:radiomics_stage")
