"""Job-pipeline stage ``segment``: selected series → nnU-Net mask files in the job folder.

Writes (atomically, so a re-run after a crash is harmless):

- ``mask.nii.gz``: uint8 mask on the series' grid (frames sorted along the normal, exact
  DICOM geometry, see :mod:`node.segment.geometry`); the SEG writer re-reads the series and
  uses ``seg_source(datasets, mask, volume)`` to get frames in source order.
- ``probabilities.nii.gz``: foreground softmax × 255 as uint8 (QC confidence, review viewer).
- ``segment.json``: model id, agreement Dice of the mirrored pass, timings.

The model is loaded once per process and reused for every job (``_segmenter``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pydicom

from node.jobs.model import JobState
from node.jobs.pipeline import register_stage
from node.segment.config import SegmentConfig
from node.segment.geometry import read_series, to_sitk

if TYPE_CHECKING:
    from node.jobs.pipeline import JobContext
    from node.segment.nnunet import Segmenter

_LOADED: dict[str, Segmenter] = {}


def _segmenter(cfg: SegmentConfig) -> Segmenter:
    from node.segment.nnunet import Segmenter

    key = cfg.model_dump_json()
    if key not in _LOADED:
        _LOADED.clear()  # one model per process
        _LOADED[key] = Segmenter(cfg.model_folder(), cfg)
    return _LOADED[key]


def segment_stage(ctx: JobContext) -> None:
    """Segment the selected series of ``ctx``; records volume and model id in the result."""
    from node.jobs.folder import Artefact
    from node.jobs.model import ModelRef

    datasets = [pydicom.dcmread(str(p)) for p in ctx.series_paths()]
    volume = read_series(datasets)
    segmenter = _segmenter(ctx.cfg.segment)
    mask = segmenter.predict(volume)
    folder = ctx.folder
    folder.write_image(Artefact.MASK, to_sitk(mask.array, mask.geometry))
    if mask.probabilities is not None:
        probs = np.round(np.clip(mask.probabilities, 0, 1) * 255).astype(np.uint8)
        folder.write_image(Artefact.PROBABILITIES, to_sitk(probs, mask.geometry))
        ctx.result.artefacts["probabilities"] = Artefact.PROBABILITIES.value
    timing = segmenter.last_timing
    info = {
        "model_id": mask.model_id,
        "series_uid": volume.series_uid,
        "agreement": mask.agreement,
        "device": segmenter.device,
        "use_mirroring": ctx.cfg.segment.use_mirroring,
        "inference_s": None if timing is None else round(timing.inference_s, 3),
        "network_s": None if timing is None else round(timing.network_s, 3),
    }
    folder.write_text(Artefact.SEGMENT_INFO, json.dumps(info, indent=2) + "\n")
    ctx.result.artefacts["mask"] = Artefact.MASK.value
    ctx.result.artefacts["segment"] = Artefact.SEGMENT_INFO.value
    voxel_ml = float(np.prod(mask.geometry.spacing)) / 1000.0
    ctx.result.volume_ml = round(float(mask.array.sum()) * voxel_ml, 3)
    ctx.result.models = [m for m in ctx.result.models if m.role != "segmentation"]
    ctx.result.models.append(ModelRef(role="segmentation", model_id=mask.model_id,
                                      version=mask.model_id.rpartition("@")[2]))


register_stage("segment", JobState.SEGMENTED, "node.segment.stage:segment_stage")
