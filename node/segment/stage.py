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
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.segment.config import SegmentConfig
from node.segment.geometry import read_series, to_sitk

if TYPE_CHECKING:
    from node.jobs.pipeline import JobContext
    from node.segment.nnunet import Segmenter

MASK_FILE = "mask.nii.gz"
PROB_FILE = "probabilities.nii.gz"
INFO_FILE = "segment.json"

_LOADED: dict[str, Segmenter] = {}


def _segmenter(cfg: SegmentConfig) -> Segmenter:
    from node.segment.nnunet import Segmenter

    key = cfg.model_dump_json()
    if key not in _LOADED:
        _LOADED.clear()  # one model per process
        _LOADED[key] = Segmenter(cfg.model_folder(), cfg)
    return _LOADED[key]


def _atomic_image(image: sitk.Image, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".nii.gz")
    os.close(fd)
    try:
        sitk.WriteImage(image, tmp, useCompression=True)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _atomic_text(text: str, target: Path) -> None:
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def segment_stage(ctx: JobContext) -> None:
    """Segment the selected series of ``ctx``; records volume and model id in the result."""
    from node.jobs.model import ModelRef

    datasets = [pydicom.dcmread(str(p)) for p in ctx.series_paths()]
    volume = read_series(datasets)
    segmenter = _segmenter(ctx.cfg.segment)
    mask = segmenter.predict(volume)
    ctx.job_dir.mkdir(parents=True, exist_ok=True)
    _atomic_image(to_sitk(mask.array, mask.geometry), ctx.job_dir / MASK_FILE)
    if mask.probabilities is not None:
        probs = np.round(np.clip(mask.probabilities, 0, 1) * 255).astype(np.uint8)
        _atomic_image(to_sitk(probs, mask.geometry), ctx.job_dir / PROB_FILE)
        ctx.result.artefacts["probabilities"] = PROB_FILE
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
    _atomic_text(json.dumps(info, indent=2) + "\n", ctx.job_dir / INFO_FILE)
    ctx.result.artefacts["mask"] = MASK_FILE
    ctx.result.artefacts["segment"] = INFO_FILE
    voxel_ml = float(np.prod(mask.geometry.spacing)) / 1000.0
    ctx.result.volume_ml = round(float(mask.array.sum()) * voxel_ml, 3)
    ctx.result.models = [m for m in ctx.result.models if m.role != "segmentation"]
    ctx.result.models.append(ModelRef(role="segmentation", model_id=mask.model_id,
                                      version=mask.model_id.rpartition("@")[2]))
