"""Job-pipeline stage ``radiomics``: features of the tumour on the selected T1 series.

Reads the series again (exact DICOM geometry, :mod:`node.segment.geometry`) and the mask the
segment stage (or a reviewer's correction) left in the job folder, and writes
``features.json`` (a :class:`FeatureVector` with the settings hash the classifier checks).
The longest axial diameter (:mod:`node.radiomics.diameter`) is measured here too, because the SR
reports it next to P(ALT).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.jobs.model import JobState
from node.jobs.pipeline import register_stage
from node.radiomics.diameter import longest_axial_diameter_mm
from node.radiomics.features import extract
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
    features = extract(image, mask, settings)
    ctx.folder.write_text(Artefact.FEATURES, features.to_json())
    ctx.result.artefacts["features"] = Artefact.FEATURES.value
    ctx.result.diameter_mm = longest_axial_diameter_mm(mask)


register_stage("radiomics", JobState.FEATURES, "node.radiomics.stage:radiomics_stage")
