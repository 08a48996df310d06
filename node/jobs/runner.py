"""The embedded ``local`` runner: finds complete studies, runs jobs in worker processes.

One scheduler thread polls (every ``jobs.poll_interval_s``, or sooner when woken by the SCP's
``on_stored``): (1) studies in the store without a job are assessed for completeness
(:func:`node.select.completeness.assess`: quiet timer + data checks, bounded wait) and get a
job when ready; (2) every runnable job (non-terminal, back-off passed, not in flight) is
submitted to a ``ProcessPoolExecutor``. A worker runs :func:`node.jobs.pipeline.execute_job`,
which resumes from the last completed stage, so restarting the node or losing a worker process
(``BrokenProcessPool``: the pool is rebuilt) re-dispatches the job without redoing finished
stages. Each dispatch counts; after ``jobs.max_attempts`` the job fails with ``worker_crashed``.

Late data: PACS routing often sends a study's series over separate associations minutes apart,
so the T1 may arrive after the quiet timer made the job. When instances arrive for a study
after its job was created and the study is quiet again, a finished job is redone from
``select`` if that data matters (the job failed for want of a T1, the selection now picks
another series, or the selected series itself got more slices; results already written are
superseded), otherwise the job records ``late_instances_ignored``. A job still running is
checked once it finishes.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime

from node.config import NodeConfig
from node.errors import NoT1Series
from node.jobs.errors import WorkerCrashed
from node.jobs.folder import JobFolder
from node.jobs.jobdb import JobDB, JobRow, job_id_for
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import Pipeline, execute_job
from node.select.completeness import assess
from node.select.index import StudyIndex
from node.select.rules import choose_series
from node.store import Store

log = logging.getLogger(__name__)


@dataclass
class _Seen:
    """Last assessment of a waiting study; re-read headers only when new instances arrived."""

    last_received: datetime
    gaps: bool


class LocalRunner:
    def __init__(self, cfg: NodeConfig, pipeline: Pipeline, store: Store | None = None) -> None:
        self.cfg = cfg
        self.pipeline = pipeline
        self.store = store
        self.db = JobDB(cfg.db_path)
        self._executor: ProcessPoolExecutor | None = None
        self._inflight: dict[str, Future[JobState]] = {}
        self._seen: dict[str, _Seen] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # the scheduler thread and idle() both touch _inflight

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
        self._thread.start()

    def wake(self, *_: object) -> None:
        """Poll now (usable as the SCP's ``on_stored`` callback)."""
        self._wake.set()

    def stop(self, grace_s: float | None = None) -> None:
        """Stop polling; give running stages ``grace_s`` (default ``jobs.shutdown_grace_s``) to
        finish, then terminate the workers. A job cut off mid-stage resumes at that stage on the
        next start (its completed stages are durable), so a bounded shutdown loses nothing."""
        grace = self.cfg.jobs.shutdown_grace_s if grace_s is None else grace_s
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._executor is not None:
            # the pool's worker processes: there is no public accessor, and without them a long
            # stage (nnU-Net on CPU) would hold SIGTERM shutdown beyond any service timeout
            procs = list(getattr(self._executor, "_processes", {}).values())
            self._executor.shutdown(wait=False, cancel_futures=True)
            deadline = time.monotonic() + grace
            for proc in procs:
                proc.join(max(0.0, deadline - time.monotonic()))
            for proc in procs:
                if proc.is_alive():
                    log.warning("terminating worker %s; its job resumes on the next start", proc.pid)
                    proc.terminate()
                    proc.join(5)
            self._executor = None
        self.db.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # keep scheduling; the error is in the log
                log.exception("runner poll failed")
            self._wake.wait(self.cfg.jobs.poll_interval_s)
            self._wake.clear()

    # -- one round ------------------------------------------------------------------------
    def poll_once(self, now: datetime | None = None) -> None:
        with self._lock:
            self._reap()
            if self.store is not None:
                self.discover(now or datetime.now(UTC))
            self.dispatch()

    def discover(self, now: datetime) -> list[str]:
        """Create jobs for studies that became complete; return their job ids."""
        assert self.store is not None
        created = []
        have = self.db.jobs_by_study()
        for study_uid, last in self.store.last_received_by_study().items():
            if study_uid in have:
                self._late_data(have[study_uid], last, now)
                continue
            if (now - last).total_seconds() < self.cfg.select.quiet_s:
                continue
            seen = self._seen.get(study_uid)
            if seen and seen.last_received == last and seen.gaps and \
                    (now - last).total_seconds() < self.cfg.select.max_wait_s:
                continue  # nothing new arrived, still inside the bounded wait
            study = StudyIndex.from_records(self.store.study_instances(study_uid))
            verdict = assess(study, last, now, self.cfg.select)
            self._seen[study_uid] = _Seen(last, bool(verdict.gaps))
            if not verdict.ready:
                continue
            job_id = job_id_for(study_uid)
            if self.db.get(job_id) is not None:  # never overwrite an existing job's record
                continue
            result = JobResult(job_id=job_id, study_uid=study_uid, warnings=verdict.warnings)
            JobFolder.of(self.cfg, job_id).save_result(result)
            if self.db.create(study_uid, job_id=job_id):
                created.append(job_id)
                self._seen.pop(study_uid, None)
                log.info("job %s created (%s)", job_id, verdict.readiness)
        return created

    def _busy(self, job_id: str) -> bool:
        return job_id in self._inflight

    def _late_data(self, row: JobRow, last: datetime, now: datetime) -> None:
        """Act once on instances that arrived after ``row``'s job was created (module docstring);
        ``last`` is the study's newest instance."""
        assert self.store is not None
        if last <= row.created_at or (now - last).total_seconds() < self.cfg.select.quiet_s:
            return
        done = row.finished or row.state.terminal
        if self._busy(row.job_id) or not done or "select" not in self.cfg.jobs.stages:
            return
        folder = JobFolder.of(self.cfg, row.job_id)
        if not folder.has_result():
            return
        result = folder.read_result()
        if result.late_data_at is not None and result.late_data_at >= last.timestamp():
            return  # already acted on this data
        records = self.store.study_instances(row.study_uid)
        since = max(row.created_at.timestamp(), result.late_data_at or 0.0)
        late_series = {r.series_uid for r in records if r.received_at.timestamp() > since}
        try:
            study = StudyIndex.from_records(records)
            chosen: str | None = choose_series(study, self.cfg.select.rules).series_uid
        except NoT1Series:
            chosen = None
        had_no_t1 = (row.state in (JobState.FAILED, JobState.NEEDS_REVIEW)
                     and row.error_code == NoT1Series.code)
        manual = result.selection is not None and result.selection.method == "manual"
        if manual:  # a reviewer's pick stands; redo only if that series itself got more images
            redo = row.series_uid in late_series
        else:
            redo = chosen is not None and (had_no_t1 or chosen != row.series_uid
                                           or row.series_uid in late_series)
        if redo:
            from node.jobs.control import reopen_job

            if manual:
                result = reopen_job(self.cfg, row.job_id, "segment", done=["select"])
            else:
                result = reopen_job(self.cfg, row.job_id, "select")
            result.supersede_reported()
        tag = "late_instances" if redo else "late_instances_ignored"
        if tag not in result.warnings:
            result.warnings.append(tag)
        result.late_data_at = last.timestamp()
        folder.save_result(result)
        log.warning("job %s: %d late series arrived after the job was created; %s", row.job_id,
                    len(late_series), "redone from select" if redo else "not needed for the result")

    def dispatch(self) -> None:
        for row in self.db.runnable():
            if row.job_id in self._inflight:
                continue
            attempts = self.db.add_attempt(row.job_id)
            if attempts > self.cfg.jobs.max_attempts:
                self._give_up(row.job_id, attempts)
                continue
            self._inflight[row.job_id] = self._pool().submit(
                execute_job, row.job_id, self.cfg, self.pipeline
            )

    def _give_up(self, job_id: str, attempts: int) -> None:
        folder = JobFolder.of(self.cfg, job_id)
        if folder.has_result():
            result = folder.read_result()
            result.state = JobState.FAILED
            result.error_code = WorkerCrashed.code
            result.error_message = f"{attempts - 1} dispatches without finishing"
            folder.save_result(result)
        self.db.update(job_id, state=JobState.FAILED, error_code=WorkerCrashed.code)
        log.error("job %s failed: %d dispatches without finishing", job_id, attempts - 1)

    def _reap(self) -> None:
        broken = False
        for job_id, fut in list(self._inflight.items()):
            if not fut.done():
                continue
            del self._inflight[job_id]
            exc = fut.exception()
            if isinstance(exc, BrokenProcessPool):
                broken = True
                log.error("job %s: worker process died; it will resume from its last stage", job_id)
            elif exc is not None:
                log.error("job %s: runner error %r", job_id, exc)
        if broken and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            ctx = multiprocessing.get_context(self.cfg.jobs.start_method)
            if self.cfg.jobs.start_method == "forkserver":
                # import the job machinery once in the fork server, not in every new worker
                stage_modules = sorted({s.target.partition(":")[0] for s in self.pipeline.stages})
                ctx.set_forkserver_preload(["node.jobs.pipeline", *stage_modules])
            self._executor = ProcessPoolExecutor(self.cfg.jobs.workers, mp_context=ctx)
        return self._executor

    def idle(self) -> bool:
        """No job in flight (for tests and clean shutdown)."""
        with self._lock:
            self._reap()
            return not self._inflight

    def wait_idle(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.05)
        return False
