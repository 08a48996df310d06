"""The Celery application of the ``celery`` runner, built from the node's config.

:func:`make_celery` returns a fresh :class:`celery.Celery` with one task, ``lipo_node.stage``
(``job_id, stage_name``), so nothing reads the environment at import time: ``serve`` and
``lipo-node worker`` both load ``config.yaml`` (+ ``LIPO_NODE_...``) the usual way and pass it
in. The task runs ONE stage of one job with :func:`node.jobs.pipeline.execute_job` (the same
stage functions, the same durable ``result.json`` / ``completed_stages``), then sends the next
configured stage to that stage's queue (``jobs.celery.stage_queues``, else
``jobs.celery.default_queue``) BEFORE its own message is acknowledged (``acks_late``), so a
worker that dies at any point leaves either the stage message (redelivered; completed stages
are skipped) or the successor's message behind, never neither.

The task returns ``{"state": ..., "next": <task id or None>}`` to the result backend; the
dispatcher in ``serve`` follows these links to know when a job's chain has ended.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from celery import Celery

from node.config import NodeConfig
from node.jobs.folder import JobFolder
from node.jobs.jobdb import JobDB
from node.jobs.pipeline import Pipeline, execute_job

log = logging.getLogger(__name__)

STAGE_TASK = "lipo_node.stage"
LOCK_PREFIX = "lipo-node:job-lock:"


def queue_for(cfg: NodeConfig, stage_name: str) -> str:
    """Routing by stage name: ``jobs.celery.stage_queues`` or the default queue."""
    return cfg.jobs.celery.stage_queues.get(stage_name, cfg.jobs.celery.default_queue)


def queues_of(cfg: NodeConfig) -> list[str]:
    """Every queue the configured pipeline uses (what a worker with no ``--queues`` consumes)."""
    names = [queue_for(cfg, s) for s in cfg.jobs.stages]
    return sorted(set(names) | set(cfg.jobs.celery.stage_queues.values()) |
                  {cfg.jobs.celery.default_queue})


def make_celery(cfg: NodeConfig) -> Celery:
    """A Celery app bound to ``cfg`` (broker, backend, queues) with the stage task registered.

    Worker settings chosen for long, crash-prone stages: ``acks_late`` + one prefetched
    message per process + ``task_reject_on_worker_lost``, so a killed worker process's stage is
    requeued instead of lost or marked done; JSON only (no pickle from the broker).
    """
    cc = cfg.jobs.celery
    app = Celery("lipo_node", broker=cc.broker_url, backend=cc.result_backend,
                 set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=cc.default_queue,
        task_create_missing_queues=True,
        broker_transport_options={"visibility_timeout": cc.visibility_timeout_s},
        result_expires=7 * 24 * 3600,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
    )

    @app.task(name=STAGE_TASK, bind=True, shared=False)  # per app, not celery-global
    def stage_task(self: Any, job_id: str, stage_name: str) -> dict[str, str | None]:
        return run_stage(app, cfg, job_id, stage_name, self.request.id)

    return app


def send_stage(app: Celery, cfg: NodeConfig, job_id: str, stage_name: str) -> str:
    """Enqueue ``stage_name`` of ``job_id`` on its queue; return the task id."""
    res = app.send_task(STAGE_TASK, args=[job_id, stage_name], queue=queue_for(cfg, stage_name))
    return str(res.id)


@contextlib.contextmanager
def _job_lock(app: Celery, cfg: NodeConfig, job_id: str, owner: str) -> Iterator[bool]:
    """One stage of a job at a time across all workers (a duplicate dispatch after a ``serve``
    restart must not run a stage twice concurrently). The lock holds the task id, so the same
    task redelivered after its worker process died takes it over."""
    key = LOCK_PREFIX + job_id
    with app.connection_for_write() as conn:
        client = conn.default_channel.client  # kombu's redis client for the broker
        got = bool(client.set(key, owner, nx=True, ex=cfg.jobs.celery.visibility_timeout_s))
        if not got:
            held = client.get(key)
            got = held is not None and held.decode() == owner
        try:
            yield got
        finally:
            if got:
                held = client.get(key)
                if held is not None and held.decode() == owner:
                    client.delete(key)


def run_stage(app: Celery, cfg: NodeConfig, job_id: str, stage_name: str,
              task_id: str | None) -> dict[str, str | None]:
    """Run ``stage_name`` (and any earlier stage not yet completed), then chain the next one."""
    pipeline = Pipeline.from_names(cfg.jobs.stages)
    names = [s.name for s in pipeline.stages]
    if stage_name not in names:  # config changed under a queued message: the dispatcher restarts
        log.error("job %s: stage %s is not configured (%s); dropped", job_id, stage_name, names)
        return {"state": None, "next": None}
    index = names.index(stage_name)
    with _job_lock(app, cfg, job_id, task_id or "") as mine:
        if not mine:
            log.warning("job %s: another worker holds it; %s not run twice", job_id, stage_name)
            return {"state": None, "next": None}
        # the prefix pipeline: execute_job skips completed stages and runs this one
        state = execute_job(job_id, cfg, Pipeline(pipeline.stages[: index + 1]))
        result = JobFolder.of(cfg, job_id).read_result()
        if state.terminal or stage_name not in result.completed_stages or index + 1 == len(names):
            return {"state": str(state), "next": None}  # done, stopped, or waiting for a retry
        db = JobDB(cfg.db_path)
        try:  # execute_job marked the prefix finished; the job itself is not
            db.update(job_id, state=state, series_uid=result.series_uid, finished=False)
        finally:
            db.close()
    # only after the lock is released: the next stage may start on another worker at once
    nxt = send_stage(app, cfg, job_id, names[index + 1])
    return {"state": str(state), "next": nxt}
