"""Operator / worklist actions on a job: reopen it so the runner continues it.

Used when a clinician accepts or corrects a segmentation in the worklist: the job leaves
``needs_review`` and resumes at ``redo_from`` (e.g. "qc" after a corrected mask was written to
the job folder), keeping every earlier completed stage.
"""

from __future__ import annotations

from collections.abc import Sequence

from node.config import NodeConfig
from node.jobs.errors import JobNotFound, StageNotRegistered
from node.jobs.folder import JobFolder
from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import Pipeline


def reopen_job(cfg: NodeConfig, job_id: str, redo_from: str, done: Sequence[str] = ()) -> JobResult:
    """Forget ``redo_from`` and every later stage; the runner picks the job up on its next poll.

    ``done`` names stages to record as completed without running them (e.g. ``["qc"]`` when a
    clinician accepted the mask: their judgement replaces the automatic check).
    """
    pipeline = Pipeline.from_names(cfg.jobs.stages)
    names = [s.name for s in pipeline.stages]
    if redo_from not in names:
        raise StageNotRegistered(f"{redo_from!r} is not a configured stage ({names})")
    folder = JobFolder.of(cfg, job_id)
    db = JobDB(cfg.db_path)
    try:
        if db.get(job_id) is None or not folder.has_result():
            raise JobNotFound(f"no job {job_id}")
        result = folder.read_result()
        keep = names[: names.index(redo_from)]
        result.completed_stages = [s for s in result.completed_stages if s in keep]
        result.completed_stages += [s for s in done if s in names and s not in result.completed_stages]
        reached = [s.reaches for s in pipeline.stages if s.name in result.completed_stages]
        result.state = reached[-1] if reached else JobState.RECEIVED
        result.error_code = result.error_message = None
        result.retries.pop(redo_from, None)
        folder.save_result(result)
        db.reopen(job_id, result.state)
        return result
    finally:
        db.close()
