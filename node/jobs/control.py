"""Operator / worklist actions on a job: run a folder offline, reopen a job so the runner
continues it.

Used when a clinician accepts or corrects a segmentation in the worklist: the job leaves
``needs_review`` and resumes at ``redo_from`` (e.g. "qc" after a corrected mask was written to
the job folder), keeping every earlier completed stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from node.config import NodeConfig
from node.errors import LipoNodeError
from node.jobs.errors import JobNotFound, StageNotRegistered
from node.jobs.folder import Artefact, JobFolder
from node.jobs.jobdb import JobDB, job_id_for
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import Pipeline, execute_job
from node.select.index import StudyIndex


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


def run_folder(cfg: NodeConfig, folder: Path) -> tuple[Path, JobResult]:
    """Process one folder of DICOM files through the configured stages, in this process.

    The job lives under ``cfg.jobs_dir`` (pass ``data_dir`` to put it elsewhere) and reads its
    files from ``folder`` instead of the spool; no network is used.
    """
    folder = Path(folder).resolve()
    study = StudyIndex.from_folder(folder)
    if not study.series:
        raise LipoNodeError(f"no DICOM files in {folder}")
    pipeline = Pipeline.from_names(cfg.jobs.stages)
    job_id = job_id_for(study.study_uid + "|" + str(folder))
    db = JobDB(cfg.db_path)
    try:
        if db.get(job_id) is not None:  # a re-run of the same folder starts over
            db.update(job_id, state=JobState.RECEIVED)
            (JobFolder.of(cfg, job_id) / Artefact.RESULT).unlink(missing_ok=True)
        db.create(study.study_uid, source_dir=str(folder), job_id=job_id)
    finally:
        db.close()
    execute_job(job_id, cfg, pipeline)
    folder = JobFolder.of(cfg, job_id)
    return folder / Artefact.RESULT, folder.read_result()
