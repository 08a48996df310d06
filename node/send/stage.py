"""Job-pipeline stage ``send``: queue the job's SEG + SR (+ key image) in the outbox and work it.

The job reaches ``delivered`` only when every destination confirmed every SOP Instance UID.
While the outbox still retries, :class:`~node.errors.DeliveryPending` tells the runner when the
next item is due (the outbox's ``send.retry`` policy decides, not ``jobs.max_attempts``); once
an item is dead-lettered, :class:`~node.errors.DeliveryError` (``delivery_failed``).
With no destination configured the result stays in the job folder and the delivery
status says so. :func:`resend_job` (``lipo-node orthanc resend JOB``) delivers a finished
job's SEG + SR (+ key image) again through the same outbox.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from node.errors import DeliveryError, DeliveryPending
from node.jobs.model import JobState
from node.jobs.pipeline import register_stage
from node.send.outbox import ItemState, Outbox
from node.vocab import DeliveryState

if TYPE_CHECKING:
    from pathlib import Path

    from node.config import NodeConfig
    from node.jobs.folder import JobFolder
    from node.jobs.model import JobResult
    from node.jobs.pipeline import JobContext


def report_files(folder: JobFolder, result: JobResult) -> list[Path]:
    """The job's SEG and SR files, and the key image when the report stage wrote one
    (``report.key_image``); DeliveryError when the report stage has not written SEG + SR."""
    if not {"seg", "sr"} <= result.artefacts.keys():
        raise DeliveryError(f"job {result.job_id} has no SEG/SR yet (state {result.state.value}); "
                            "run the report stage first")
    return [folder / result.artefacts[k] for k in ("seg", "sr", "key_image") if k in result.artefacts]


def send_stage(ctx: JobContext) -> None:
    r = ctx.result
    cfg = ctx.cfg.send
    if not cfg.destinations:
        r.delivery.status = DeliveryState.SKIPPED
        r.delivery.detail = "no destinations configured (send.destinations)"
        return
    files = report_files(ctx.folder, r)
    outbox = Outbox(ctx.cfg.db_path, cfg)
    try:
        outbox.enqueue_default(ctx.job_id, files)
        outbox.process_due(job_id=ctx.job_id)
        status = outbox.status(ctx.job_id)
    finally:
        outbox.close()
    r.delivery.destinations = sorted({i.destination for i in status.items})
    r.delivery.status = status.overall
    errors = [f"{i.destination}: {i.last_error}" for i in status.items if i.last_error]
    r.delivery.detail = "; ".join(errors)
    if status.overall is ItemState.PENDING:
        due = [i.next_at for i in status.items if i.state is ItemState.PENDING]
        raise DeliveryPending(f"job {ctx.job_id}: delivery pending: {r.delivery.detail}",
                              retry_after_s=(min(due) - time.time()) if due else cfg.poll_interval_s)
    if status.overall is not ItemState.DELIVERED:
        raise DeliveryError(f"job {ctx.job_id}: delivery {r.delivery.status}: {r.delivery.detail}")


def resend_job(cfg: NodeConfig, job_id: str) -> int:
    """Deliver a job's SEG + SR again (e.g. after a PACS restore); returns the items queued.

    The job's outbox items get fresh attempts and are worked at once; a job that never had
    items (no destination when it ran) gets them now. The SOP Instance UIDs are deterministic,
    so a destination that still holds the result just receives the same instances again.
    """
    from node.jobs.folder import JobFolder

    folder = JobFolder.of(cfg, job_id)
    if not folder.has_result():
        raise DeliveryError(f"no job {job_id} under {cfg.jobs_dir}")
    files = report_files(folder, folder.read_result())
    if not cfg.send.destinations:
        raise DeliveryError("no destinations configured (send.destinations)")
    outbox = Outbox(cfg.db_path, cfg.send)
    try:
        items = outbox.status(job_id).items
        if not items:
            outbox.enqueue_default(job_id, files)
            items = outbox.status(job_id).items
        for item in items:
            outbox.requeue(item.id)
        outbox.process_due(job_id=job_id)
        return len(items)
    finally:
        outbox.close()


register_stage("send", JobState.DELIVERED, "node.send.stage:send_stage")
