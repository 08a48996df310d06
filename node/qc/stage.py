"""Job-pipeline stage ``qc``: run the checks on the segment stage's files.

Pass → the job continues. Fail → :class:`QcFailed` (code ``qc_failed``, listed in
``jobs.review_codes``) so the runner moves the job to ``needs_review``; the reasons with their
values and thresholds are in ``qc.json`` and their codes in ``result.json``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.errors import LipoNodeError
from node.qc.checks import QcStatus, run_qc
from node.segment.geometry import Mask, geometry_of

if TYPE_CHECKING:
    from node.jobs.pipeline import JobContext

QC_FILE = "qc.json"


class QcFailed(LipoNodeError):
    """The automatic segmentation needs a clinician (reasons in qc.json)."""

    code = "qc_failed"


def qc_stage(ctx: JobContext) -> None:
    from node.jobs.model import QcOutcome
    from node.segment.stage import INFO_FILE, MASK_FILE, PROB_FILE

    image = sitk.ReadImage(str(ctx.job_dir / MASK_FILE))
    info = json.loads((ctx.job_dir / INFO_FILE).read_text(encoding="utf-8"))
    probs = None
    if (ctx.job_dir / PROB_FILE).exists():
        probs = sitk.GetArrayFromImage(sitk.ReadImage(str(ctx.job_dir / PROB_FILE))) / np.float32(255)
    mask = Mask(array=sitk.GetArrayFromImage(image).astype(np.uint8), geometry=geometry_of(image),
                model_id=info["model_id"], probabilities=probs, agreement=info.get("agreement"))
    uncertain = bool(ctx.result.selection and ctx.result.selection.uncertain)
    image, source = _series_image(ctx, mask) if _needs_image(ctx) else (None, None)
    interactive = None
    if image is not None and ctx.cfg.qc.interactive_check:
        from node.qc.interactive_check import reseg_from_extremes

        sx, sy, sz = mask.geometry.spacing
        interactive = reseg_from_extremes(image, mask.array, (sz, sy, sx))
    result = run_qc(mask, None, uncertain, ctx.cfg.qc, image=image, interactive=interactive)
    tmp = ctx.job_dir / (QC_FILE + ".tmp")
    tmp.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, ctx.job_dir / QC_FILE)
    ctx.result.artefacts["qc"] = QC_FILE
    ctx.result.volume_ml = result.volume_ml
    ctx.result.qc = QcOutcome(status=result.status.value,
                              reason_codes=[r.code.value for r in result.reasons])
    if result.status is QcStatus.FAIL:
        from node.qc.pending_stage import notify_pending

        notify_pending(ctx, [r.code.value for r in result.reasons], source)
        raise QcFailed("; ".join(r.message for r in result.reasons))


def _needs_image(ctx: JobContext) -> bool:
    return ctx.cfg.qc.anatomy_checks or ctx.cfg.qc.interactive_check


def _series_image(ctx: JobContext, mask: Mask) -> tuple[np.ndarray | None, list | None]:
    """The selected series on the mask's grid (as the segment stage read it), and its datasets."""
    import pydicom

    from node.segment.geometry import read_series

    datasets = [pydicom.dcmread(str(p)) for p in ctx.series_paths()]
    volume = read_series(datasets)
    if volume.array.shape != mask.array.shape:
        return None, datasets
    return volume.array.astype(np.float32), datasets
