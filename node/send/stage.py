"""Job-pipeline stage ``send``: queue the job's SEG + SR (+ key image) in the outbox and work it.

The job reaches ``delivered`` only when every destination confirmed every SOP Instance UID.
While the outbox still retries, :class:`~node.errors.DeliveryPending` tells the runner when the
next item is due (the outbox's ``send.retry`` policy decides, not ``jobs.max_attempts``); once
an item is dead-lettered, :class:`~node.errors.DeliveryError` (``delivery_failed``).
With no destination configured the result stays in the job folder and the delivery
status says so.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from node.errors import DeliveryError, DeliveryPending
from node.send.outbox import ItemState, Outbox

if TYPE_CHECKING:
    from node.jobs.pipeline import JobContext


def send_stage(ctx: JobContext) -> None:
    r = ctx.result
    cfg = ctx.cfg.send
    if not cfg.destinations:
        r.delivery.status = "skipped"
        r.delivery.detail = "no destinations configured (send.destinations)"
        return
    if not {"seg", "sr"} <= r.artefacts.keys():
        raise DeliveryError(f"job {ctx.job_id}: SEG/SR missing; run the report stage first")
    # the key image (report.key_image) goes with them when the report stage wrote one
    files = [ctx.job_dir / r.artefacts[k] for k in ("seg", "sr", "key_image") if k in r.artefacts]
    outbox = Outbox(ctx.cfg.db_path, cfg)
    try:
        outbox.enqueue_default(ctx.job_id, files)
        outbox.process_due(job_id=ctx.job_id)
        status = outbox.status(ctx.job_id)
    finally:
        outbox.close()
    r.delivery.destinations = sorted({i.destination for i in status.items})
    r.delivery.status = status.overall.value if status.overall else None
    errors = [f"{i.destination}: {i.last_error}" for i in status.items if i.last_error]
    r.delivery.detail = "; ".join(errors)
    if status.overall is ItemState.PENDING:
        due = [i.next_at for i in status.items if i.state is ItemState.PENDING]
        raise DeliveryPending(f"job {ctx.job_id}: delivery pending: {r.delivery.detail}",
                              retry_after_s=(min(due) - time.time()) if due else cfg.poll_interval_s)
    if status.overall is not ItemState.DELIVERED:
        raise DeliveryError(f"job {ctx.job_id}: delivery {r.delivery.status}: {r.delivery.detail}")
