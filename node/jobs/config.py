"""Configuration section ``jobs`` (see config.yaml): pipeline, runner and failure policy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CeleryConfig(BaseModel):
    """``jobs.celery``: used only when ``jobs.runner: celery`` (node.jobs.celery_runner)."""

    model_config = ConfigDict(extra="forbid")

    broker_url: str = Field("redis://127.0.0.1:6379/0", description="Redis broker (kombu URL)")
    result_backend: str = Field(
        "redis://127.0.0.1:6379/1", description="where stage tasks report (serve follows chains)"
    )
    stage_queues: dict[str, str] = Field(
        default_factory=lambda: {"segment": "gpu", "interactive": "gpu"},
        description="stage name → queue; stages not listed go to default_queue",
    )
    default_queue: str = Field("cpu", description="queue of every stage not in stage_queues")
    visibility_timeout_s: int = Field(
        3600, ge=60, description="a stage not acknowledged this long after a worker host died is "
        "redelivered: keep it above the longest stage",
    )


class JobsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runner: Literal["local", "celery"] = Field(
        "local", description="local: worker processes inside `serve`; celery: Redis-brokered workers"
    )
    celery: CeleryConfig = Field(default_factory=CeleryConfig)
    workers: int = Field(2, ge=1, le=64, description="worker processes of the local runner")
    start_method: Literal["spawn", "forkserver", "fork"] = Field(
        "forkserver", description="multiprocessing start method; forkserver and spawn are safe "
        "next to the server's threads (fork is not), forkserver starts workers faster",
    )
    poll_interval_s: float = Field(2.0, gt=0, description="how often the runner looks for new work")
    stages: list[str] = Field(
        default_factory=lambda: ["select", "segment", "qc", "radiomics", "classify", "report", "send"],
        description="registered stage names in order (node.jobs.pipeline.register_stage)",
    )
    shutdown_grace_s: float = Field(
        20.0, ge=0, description="on SIGTERM, running stages get this long before workers are "
        "terminated (the job resumes at that stage on the next start)",
    )
    max_attempts: int = Field(
        3, ge=1, description="dispatches of one job (worker crashes and retryable errors count)"
    )
    retry_codes: list[str] = Field(
        default_factory=lambda: ["delivery_failed"],
        description="error codes retried (up to max_attempts) instead of failing the job",
    )
    retry_backoff_s: float = Field(30.0, ge=0, description="wait before retrying a retryable error")
    review_codes: list[str] = Field(
        default_factory=lambda: ["needs_review", "qc_failed", "segmentation_failed", "no_t1_series"],
        description="error codes that send the job to needs_review (a clinician) instead of failed",
    )
