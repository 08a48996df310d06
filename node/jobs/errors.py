"""Errors raised by the job machinery or by stages to steer it."""

from node.errors import LipoNodeError


class NeedsReview(LipoNodeError):
    """A stage decided a clinician must look (e.g. QC failed); the job waits in the worklist."""

    code = "needs_review"


class JobNotFound(LipoNodeError):
    code = "job_not_found"


class StageNotRegistered(LipoNodeError):
    code = "stage_not_registered"


class WorkerCrashed(LipoNodeError):
    """The worker process died while running the job (max_attempts dispatches)."""

    code = "worker_crashed"
