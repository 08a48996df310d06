"""``/api/jobs`` and ``/api/jobs/{job_id}``: the job list and each job's ``result.json``."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict

from node.jobs.folder import Artefact, JobFolder
from node.jobs.model import JobResult, JobState
from node.worklist.deps import ConfigDep, JobDBDep

router = APIRouter(prefix="/jobs", tags=["jobs"])

_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class JobSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: str
    state: JobState
    study_uid: str
    series_uid: str | None
    created_at: datetime
    updated_at: datetime
    attempts: int
    error_code: str | None


class JobDetail(JobResult):
    """``result.json`` as stored (same fields as :class:`node.jobs.model.JobResult`)."""


@router.get("", response_model=list[JobSummary])
def list_jobs(db: JobDBDep, state: JobState | None = None,
              limit: int = Query(100, ge=1, le=1000)) -> list[JobSummary]:
    return [
        JobSummary(job_id=r.job_id, state=r.state, study_uid=r.study_uid, series_uid=r.series_uid,
                   created_at=r.created_at, updated_at=r.updated_at, attempts=r.attempts,
                   error_code=r.error_code)
        for r in db.list(state, limit)
    ]


@router.get("/{job_id}", response_model=JobDetail)
def get_job(job_id: str, cfg: ConfigDep, db: JobDBDep) -> JobDetail:
    if not _JOB_ID.match(job_id) or db.get(job_id) is None:
        raise HTTPException(status_code=404, detail=f"no job {job_id}")
    path = JobFolder.of(cfg, job_id) / Artefact.RESULT
    if not path.is_file():
        raise HTTPException(status_code=404, detail=f"job {job_id} has no result.json yet")
    return JobDetail.model_validate_json(path.read_text(encoding="utf-8"))
