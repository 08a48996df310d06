"""Job-pipeline stage ``qc``: run the checks on the segment stage's files.

Pass → the job continues. Fail → :class:`QcFailed` (code ``qc_failed``, listed in
``jobs.review_codes``) so the runner moves the job to ``needs_review``; the reasons with their
values and thresholds are in ``qc.json`` and their codes in ``result.json``.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.errors import LipoNodeError
from node.jobs.model import JobState
from node.jobs.pipeline import register_stage
from node.qc.checks import QcStatus, run_qc
from node.segment.geometry import Mask, geometry_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pydicom

    from node.jobs.pipeline import JobContext

log = logging.getLogger(__name__)

#: the "result pending review" notice inside the job's report folder
PENDING_FILE = "pending_review.dcm"


class QcFailed(LipoNodeError):
    """The automatic segmentation needs a clinician (reasons in qc.json)."""

    code = "qc_failed"


def qc_stage(ctx: JobContext) -> None:
    from node.jobs.folder import Artefact
    from node.jobs.model import QcOutcome

    folder = ctx.folder
    image = sitk.ReadImage(str(folder / Artefact.MASK))
    info = json.loads((folder / Artefact.SEGMENT_INFO).read_text(encoding="utf-8"))
    probs = None
    if folder.has(Artefact.PROBABILITIES):
        probs = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / Artefact.PROBABILITIES))) / np.float32(255)
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
    folder.write_text(Artefact.QC, result.model_dump_json(indent=2) + "\n")
    ctx.result.artefacts["qc"] = Artefact.QC.value
    ctx.result.volume_ml = result.volume_ml
    ctx.result.qc = QcOutcome(status=result.status,
                              reason_codes=[r.code.value for r in result.reasons])
    if result.status is QcStatus.FAIL:
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



def pending_outbox_key(job_id: str) -> str:
    """Outbox key of a job's notice: apart from the result, so the result's delivery state is
    not mixed with it."""
    return f"{job_id}/pending"


def notify_pending(ctx: JobContext, reason_codes: Sequence[str],
                   source: Sequence[pydicom.Dataset] | None = None) -> str | None:
    """When QC routes the job to review: write the "result pending review" notice
    (node.report.pending: SR or Secondary Capture, ``qc.pending_notice``) into the job's report
    folder and send it through the outbox to the result destinations. A notice that cannot be
    sent now stays in the outbox (``lipo-node outbox`` retries it); it never keeps the job from
    the worklist. Returns the notice's SOP Instance UID (None when switched off)."""
    import pydicom

    from node import atomic
    from node.jobs.folder import Artefact
    from node.report.pending import PendingKind, build_pending

    kind = PendingKind(ctx.cfg.qc.pending_notice)
    if kind is PendingKind.OFF:
        return None
    if source is None:
        source = [pydicom.dcmread(str(p)) for p in ctx.series_paths()]
    ds = build_pending(kind, source, ctx.job_id, reason_codes)
    path = ctx.folder / Artefact.REPORT / PENDING_FILE
    atomic.write_with(path, lambda tmp: ds.save_as(str(tmp), enforce_file_format=True))
    ctx.result.artefacts["pending_review"] = f"{Artefact.REPORT.value}/{PENDING_FILE}"
    if "pending_review_notice" not in ctx.result.warnings:
        ctx.result.warnings.append("pending_review_notice")
    if not ctx.cfg.send.destinations:
        return str(ds.SOPInstanceUID)
    from node.send.outbox import Outbox

    outbox = Outbox(ctx.cfg.db_path, ctx.cfg.send)
    try:
        key = pending_outbox_key(ctx.job_id)
        outbox.enqueue_default(key, [path])
        outbox.process_due(job_id=key)
    except LipoNodeError as exc:  # stays queued; the job still goes to review
        log.warning("job %s: pending-review notice not sent yet: %s", ctx.job_id, exc)
    finally:
        outbox.close()
    return str(ds.SOPInstanceUID)


register_stage("qc", JobState.QC, "node.qc.stage:qc_stage")
