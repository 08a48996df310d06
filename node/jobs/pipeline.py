"""Stages, their registry, the job context and the one function that runs a job.

A stage is a plain function ``(ctx: JobContext) -> None`` that reads inputs through the
context, writes files into ``ctx.job_dir`` and fields into ``ctx.result``. It is registered by
name with the state a job reaches when it completes::

    register_stage("segment", JobState.SEGMENTED, "node.segment.stage:segment_stage")

and ``jobs.stages`` in config.yaml lists the names in order. Each stage package registers its
own stages at the end of its ``stage.py`` (``node/<name>/stage.py``); :meth:`Pipeline.from_names`
imports that module for a name not registered yet, so adding a stage touches only its package.
Functions are referenced as ``"module:function"`` strings, so a :class:`Pipeline` pickles into a
worker process whatever start method is used.

Durability (crash recovery): after each stage ``result.json`` is written atomically with the
stage in ``completed_stages``, then the job row is updated; :func:`execute_job` skips stages
already listed, so a restarted job resumes at the first stage not completed. A stage may be
re-run only if the process died while it was running, so stages must be idempotent (write
their files atomically; deterministic UIDs for SEG/SR).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from node.config import NodeConfig
from node.errors import LipoNodeError
from node.jobs.errors import StageNotRegistered
from node.jobs.folder import Artefact, JobFolder
from node.jobs.jobdb import JobDB
from node.jobs.model import ORDER, JobResult, JobState
from node.select.index import StudyIndex

log = logging.getLogger(__name__)

RESULT_FILE = Artefact.RESULT  # kept for callers that name it; JobFolder owns the layout


@dataclass(frozen=True)
class Stage:
    name: str
    reaches: JobState
    target: str  # "package.module:function"

    def function(self) -> Callable[[JobContext], None]:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


_REGISTRY: dict[str, Stage] = {}


def register_stage(name: str, reaches: JobState | str, target: str) -> Stage:
    """Register (or replace) a stage by name; ``target`` is ``"module:function"``."""
    if ":" not in target:
        raise ValueError(f"stage target {target!r} must be 'module:function'")
    stage = Stage(name, JobState(reaches), target)
    _REGISTRY[name] = stage
    return stage


def registered_stages() -> dict[str, Stage]:
    return dict(_REGISTRY)


@dataclass(frozen=True)
class Pipeline:
    """Ordered stages; each must move the job forward along :data:`node.jobs.model.ORDER`."""

    stages: tuple[Stage, ...]

    def __post_init__(self) -> None:
        """Valid once constructed: states along ORDER, never backwards, names unique."""
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"pipeline names a stage twice: {names}")
        index = -1
        for stage in self.stages:
            if stage.reaches not in ORDER:
                raise ValueError(f"stage {stage.name} reaches {stage.reaches}, not a forward state")
            if ORDER.index(stage.reaches) < index:
                raise ValueError(f"stage {stage.name} would move the job backwards "
                                 f"(to {stage.reaches}); order the stages along {list(ORDER)}")
            index = ORDER.index(stage.reaches)

    @classmethod
    def from_names(cls, names: list[str]) -> Pipeline:
        for name in names:
            if name not in _REGISTRY:
                _discover(name)
        missing = [n for n in names if n not in _REGISTRY]
        if missing:
            raise StageNotRegistered(
                f"jobs.stages names unregistered stage(s) {missing}; known: {sorted(_REGISTRY)}"
            )
        return cls(tuple(_REGISTRY[n] for n in names))


def _discover(name: str) -> None:
    """Import ``node.<name>.stage``, whose module registers the package's stage(s)."""
    if not name.isidentifier():
        return
    try:
        importlib.import_module(f"node.{name}.stage")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"node.{name}", f"node.{name}.stage"):
            raise  # the stage module exists but a dependency is missing: say so


@dataclass
class JobContext:
    """What a stage gets: the job's identity, folder, config and mutable result."""

    job_id: str
    job_dir: Path
    cfg: NodeConfig
    result: JobResult
    _paths: list[Path] | None = field(default=None, repr=False)

    def instance_paths(self) -> list[Path]:
        """Every file of the study: the offline input folder or the store's spool."""
        if self._paths is None:
            if self.result.source_dir:
                self._paths = sorted(p for p in Path(self.result.source_dir).rglob("*") if p.is_file())
            else:
                from node.store import Store  # here: offline runs need no spool

                store = Store(self.cfg.db_path, self.cfg.spool_dir, self.cfg.store)
                try:
                    self._paths = [r.path for r in store.study_instances(self.result.study_uid)]
                finally:
                    store.close()
        return self._paths

    @property
    def folder(self) -> JobFolder:
        return JobFolder(self.job_dir)

    @cached_property
    def study(self) -> StudyIndex:
        return StudyIndex.from_paths(self.instance_paths())

    def series_paths(self, series_uid: str | None = None) -> list[Path]:
        """Files of ``series_uid`` (default: the selected series)."""
        uid = series_uid or self.result.series_uid
        if uid is None or uid not in self.study.series:
            raise LipoNodeError(f"job {self.job_id}: series {uid} not in the study")
        return list(self.study.series[uid].paths)

    def save(self) -> None:
        self.result.updated_at = datetime.now(UTC)
        self.folder.save_result(self.result)


def load_result(folder: JobFolder, study_uid: str, source_dir: str | None) -> JobResult:
    """The job's result.json, or a fresh result for a job that has none yet."""
    if folder.has_result():
        return folder.read_result()
    return JobResult(job_id=folder.job_id, study_uid=study_uid, source_dir=source_dir)


def _outcome(exc: BaseException, cfg: NodeConfig) -> tuple[JobState | None, str]:
    """(state, code) for a stage error; state None means retry later."""
    code = exc.code if isinstance(exc, LipoNodeError) else "internal_error"
    if getattr(exc, "keeps_retrying", False):  # e.g. the outbox still retries on its own schedule
        return None, code
    if code in cfg.jobs.review_codes:
        return JobState.NEEDS_REVIEW, code
    if code in cfg.jobs.retry_codes:
        return None, code
    return JobState.FAILED, code


def execute_job(job_id: str, cfg: NodeConfig, pipeline: Pipeline) -> JobState:
    """Run the job's remaining stages in this process; return the state it ends in."""
    db = JobDB(cfg.db_path)
    try:
        row = db.get(job_id)
        if row is None:
            raise LipoNodeError(f"job {job_id} not in {cfg.db_path}")
        folder = JobFolder.of(cfg, job_id)
        result = load_result(folder, row.study_uid, row.source_dir)
        ctx = JobContext(job_id, folder.path, cfg, result)
        for stage in pipeline.stages:
            if stage.name in result.completed_stages:
                continue
            result.retries[stage.name] = result.retries.get(stage.name, 0) + 1
            ctx.save()  # the attempt counts even if this process dies inside the stage
            started = time.time()
            try:
                stage.function()(ctx)
            except Exception as exc:  # every failure becomes a coded state, never a lost job
                seconds = time.time() - started
                state, code = _outcome(exc, cfg)
                db.record_run(job_id, stage.name, started, seconds, False, code)
                result.error_code, result.error_message = code, str(exc)[:2000]
                log.warning("job %s stage %s: %s (%s)", job_id, stage.name, code, exc)
                attempts = result.retries[stage.name]
                waiting = getattr(exc, "keeps_retrying", False)
                if state is None and attempts >= cfg.jobs.max_attempts and not waiting:
                    state = JobState.FAILED
                if state is None:
                    ctx.save()
                    delay = getattr(exc, "retry_after_s", cfg.jobs.retry_backoff_s)
                    db.update(job_id, state=result.state, error_code=code, not_before=time.time() + delay)
                    if waiting:  # not a crash and not the stage's fault: dispatches start again
                        db.clear_attempts(job_id)
                    return result.state
                result.state = state
                ctx.save()
                db.update(job_id, state=state, error_code=code)
                return state
            seconds = time.time() - started
            result.completed_stages.append(stage.name)
            result.timings_s[stage.name] = round(seconds, 4)
            result.state = stage.reaches
            result.error_code = result.error_message = None
            ctx.save()  # durable first ...
            db.update(job_id, state=stage.reaches, series_uid=result.series_uid)  # ... index second
            db.record_run(job_id, stage.name, started, seconds, True)
        db.update(job_id, state=result.state, series_uid=result.series_uid, finished=True)
        return result.state
    finally:
        db.close()
