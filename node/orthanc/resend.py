"""``lipo-node orthanc resend JOB``: deliver a job's SEG, SR (+ key image) again (e.g. PACS restore).

The job's outbox items are given fresh attempts and worked at once; a job that never had
items (no destination when it ran) gets them now. The SOP Instance UIDs are deterministic, so
a destination that still holds the result just receives the same instances again.
"""

from __future__ import annotations

from node.config import NodeConfig
from node.errors import DeliveryError
from node.jobs.model import JobResult
from node.jobs.pipeline import RESULT_FILE
from node.send.outbox import Outbox


def resend_job(cfg: NodeConfig, job_id: str) -> int:
    result_path = cfg.jobs_dir / job_id / RESULT_FILE
    if not result_path.exists():
        raise DeliveryError(f"no job {job_id} under {cfg.jobs_dir}")
    result = JobResult.from_file(result_path)
    if not {"seg", "sr"} <= result.artefacts.keys():
        raise DeliveryError(f"job {job_id} has no SEG/SR yet (state {result.state.value})")
    files = [cfg.jobs_dir / job_id / result.artefacts[k] for k in ("seg", "sr", "key_image")
             if k in result.artefacts]
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
