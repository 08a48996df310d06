"""The ``celery`` runner: ``serve`` discovers jobs, Celery workers on other hosts run the stages.

Use it when one machine no longer keeps up (see "When a site needs Celery" below); the
embedded ``local`` runner (:mod:`node.jobs.runner`) stays the default. ``jobs.runner: celery``
changes only WHERE stages run:

- ``serve`` still receives, stores and decides when a study is complete
  (:meth:`LocalRunner.discover`), and creates the job. Instead of a process pool it sends the
  job's first unfinished stage to Celery (:func:`node.jobs.celery_app.send_stage`).
- ``lipo-node worker --queues gpu`` / ``--queues cpu`` run :func:`node.jobs.celery_app.run_stage`:
  one stage per task, the same stage functions and durable ``result.json`` as the local runner,
  then the next stage goes to its queue (``jobs.celery.stage_queues``; by default ``segment``
  and the interactive model on ``gpu``, everything else on ``cpu``). Workers need the same
  config and the same ``data_dir`` (spool, SQLite file, job folders) on a shared path.
- The dispatcher follows each chain through the result backend (every task returns the id of
  the task it enqueued) and dispatches a job again only when its chain has ended and the job is
  still runnable (a retryable error after its back-off, or a chain lost with its broker). Every
  dispatch counts towards ``jobs.max_attempts`` exactly as in the local runner.

Crash safety: ``acks_late`` + ``task_reject_on_worker_lost`` + prefetch 1 requeue the stage of
a killed worker process; a dead worker host's unacknowledged message comes back after
``jobs.celery.visibility_timeout_s``. A per-job lock in Redis stops two workers running stages
of the same job at once (duplicate dispatch after a ``serve`` restart).

When a site needs Celery
------------------------
Measured with ``node.bench.e2e_celery.studies_per_hour`` on the 2-core development VM, shared
with other jobs (load average ~25, so treat as lower bounds), synthetic studies of 64² matrix,
CPU nnU-Net (small demo-size model), every worker ``--concurrency 1`` on both queues:

=========================  ===========  ===========
stages                     1 worker     2 workers
=========================  ===========  ===========
select, segment, qc (n=4)  63 /h        78 /h
select only (n=12)         7449 /h      5294 /h
=========================  ===========  ===========

Segmentation dominates; a second worker on the same cores adds little (+23 %), and with a
trivial pipeline the broker round trips make it slower. So: one host with the local runner
suffices while studies/hour stay under what that host segments (a GPU host does far more than
these CPU numbers). Celery pays off when (a) segmentation must run on a GPU host separate from
the DICOM node, (b) more studies arrive than one host segments (add GPU workers), or (c) CPU
stages (radiomics, classify, report, send) should not queue behind GPU work. Needs: Redis, and
``data_dir`` on a filesystem all hosts share with working POSIX locks (the SQLite file).
"""

from __future__ import annotations

import logging
import time

from celery import Celery
from celery.result import AsyncResult

from node.config import NodeConfig
from node.jobs.celery_app import make_celery, send_stage
from node.jobs.folder import JobFolder
from node.jobs.pipeline import Pipeline
from node.jobs.runner import LocalRunner
from node.store import Store

log = logging.getLogger(__name__)


class CeleryRunner(LocalRunner):
    """:class:`LocalRunner` whose dispatch goes to Celery instead of a local process pool."""

    def __init__(self, cfg: NodeConfig, pipeline: Pipeline, store: Store | None = None,
                 app: Celery | None = None) -> None:
        super().__init__(cfg, pipeline, store)
        self.app = app or make_celery(cfg)
        self._chains: dict[str, str] = {}  # job id → id of the newest known task of its chain

    def first_stage(self, job_id: str) -> str:
        """The first configured stage not in ``completed_stages`` (the last one if all are:
        the worker then only marks the job finished)."""
        folder = JobFolder.of(self.cfg, job_id)
        done = folder.read_result().completed_stages if folder.has_result() else []
        for stage in self.pipeline.stages:
            if stage.name not in done:
                return stage.name
        return self.pipeline.stages[-1].name

    def _busy(self, job_id: str) -> bool:
        return job_id in self._chains

    def dispatch(self) -> None:
        for row in self.db.runnable():
            if row.job_id in self._chains:
                continue
            attempts = self.db.add_attempt(row.job_id)
            if attempts > self.cfg.jobs.max_attempts:
                self._give_up(row.job_id, attempts)
                continue
            stage = self.first_stage(row.job_id)
            self._chains[row.job_id] = send_stage(self.app, self.cfg, row.job_id, stage)
            log.info("job %s: %s sent to queue", row.job_id, stage)

    def _reap(self) -> None:
        """Follow each chain's ``next`` links; forget a job whose chain has ended."""
        for job_id, task_id in list(self._chains.items()):
            for _ in range(len(self.pipeline.stages) + 1):  # bounded: one hop per stage
                res = AsyncResult(task_id, app=self.app)
                if not res.ready():
                    self._chains[job_id] = task_id
                    if self._stale(job_id):  # lost with the broker: dispatch again (counted)
                        log.error("job %s: no progress for %ds; dispatching it again", job_id,
                                  self.cfg.jobs.celery.visibility_timeout_s)
                        del self._chains[job_id]
                    break
                ok, value = res.successful(), res.result
                res.forget()  # followed: the backend need not keep it
                nxt = value.get("next") if ok and isinstance(value, dict) else None
                if not ok:
                    log.error("job %s: stage task %s failed: %r", job_id, task_id, value)
                if not nxt:
                    del self._chains[job_id]
                    break
                task_id = nxt
            else:
                self._chains[job_id] = task_id

    def _stale(self, job_id: str) -> bool:
        """A chain whose job row has not changed for longer than the broker's redelivery time
        was lost (e.g. Redis restarted without persistence); the job lock keeps a late
        original from running next to the new dispatch."""
        row = self.db.get(job_id)
        limit = self.cfg.jobs.celery.visibility_timeout_s * 1.5
        return row is None or time.time() - row.updated_at.timestamp() > limit

    def idle(self) -> bool:
        with self._lock:
            self._reap()
            return not self._chains

    def stop(self, grace_s: float | None = None) -> None:
        """Stop discovering and dispatching; stages already queued keep running on the workers
        (they belong to the Celery cluster, not to this process)."""
        super().stop(grace_s)
        self.app.close()


def wait_finished(runner: CeleryRunner, n_jobs: int, timeout_s: float) -> bool:
    """Poll ``runner`` until ``n_jobs`` jobs exist and no chain is in flight (tests, bench)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runner.poll_once()
        if len(runner.db.list()) >= n_jobs and runner.idle() and \
                not runner.db.runnable(now=float("inf")):
            return True
        time.sleep(0.1)
    return False
