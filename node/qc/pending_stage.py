"""When QC routes a job to review: write and send the "result pending review" notice.

Called by the qc stage just before it raises :class:`~node.qc.stage.QcFailed`. The notice
(node.report.pending: SR or Secondary Capture, ``qc.pending_notice``) goes to the same
destinations as results, through the same outbox, under the key ``<job_id>/pending`` so the
delivery state of the real result later is not mixed with it. A notice that cannot be sent
now stays in the outbox (``lipo-node outbox`` retries it); it never stops the job from
reaching the worklist.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pydicom

from node.errors import LipoNodeError

if TYPE_CHECKING:
    from node.jobs.pipeline import JobContext

log = logging.getLogger(__name__)

PENDING_FILE = "report/pending_review.dcm"


def pending_outbox_key(job_id: str) -> str:
    return f"{job_id}/pending"


def notify_pending(ctx: JobContext, reason_codes: Sequence[str],
                   source: Sequence[pydicom.Dataset] | None = None) -> str | None:
    """Write the notice into the job folder and queue it; returns its SOP Instance UID."""
    from node.report.pending import PendingKind, build_pending

    kind = PendingKind(ctx.cfg.qc.pending_notice)
    if kind is PendingKind.OFF:
        return None
    if source is None:
        source = [pydicom.dcmread(str(p), stop_before_pixels=kind is PendingKind.SR)
                  for p in ctx.series_paths()]
    ds = build_pending(kind, source, ctx.job_id, reason_codes)
    path = ctx.job_dir / PENDING_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    ds.save_as(str(tmp), enforce_file_format=True)
    tmp.replace(path)
    ctx.result.artefacts["pending_review"] = PENDING_FILE
    if "pending_review_notice" not in ctx.result.warnings:
        ctx.result.warnings.append("pending_review_notice")
    cfg = ctx.cfg.send
    if not cfg.destinations:
        return str(ds.SOPInstanceUID)
    from node.send.outbox import Outbox

    outbox = Outbox(ctx.cfg.db_path, cfg)
    try:
        key = pending_outbox_key(ctx.job_id)
        outbox.enqueue_default(key, [path])
        outbox.process_due(job_id=key)
    except LipoNodeError as exc:  # stays queued; the job still goes to review
        log.warning("job %s: pending-review notice not sent yet: %s", ctx.job_id, exc)
    finally:
        outbox.close()
    return str(ds.SOPInstanceUID)
