"""Job states and the ``result.json`` model (ARCHITECTURE.md "Contracts").

``result.json`` is the durable record of a job: every stage writes its outputs into it through
:class:`JobResult` (pydantic, ``extra="forbid"``: a typo in a field name fails loudly instead of
silently adding a key nobody reads), and retry counters live in it so a restart resumes with the
same counts (STYLE.md #10). Writes are atomic (temp file, fsync, rename, folder fsync).
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class JobState(StrEnum):
    """received → selected → segmented → qc → features → classified → reported → delivered;
    ``needs_review`` (QC failed, waits for a clinician) and ``failed`` (coded error) branch off."""

    RECEIVED = "received"
    SELECTED = "selected"
    SEGMENTED = "segmented"
    QC = "qc"
    NEEDS_REVIEW = "needs_review"
    FEATURES = "features"
    CLASSIFIED = "classified"
    REPORTED = "reported"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        """No runner picks the job up again by itself (review resumes it explicitly)."""
        return self in (JobState.DELIVERED, JobState.FAILED, JobState.NEEDS_REVIEW)


#: the happy path in order; a stage may only move a job forward along it
ORDER: tuple[JobState, ...] = (
    JobState.RECEIVED, JobState.SELECTED, JobState.SEGMENTED, JobState.QC, JobState.FEATURES,
    JobState.CLASSIFIED, JobState.REPORTED, JobState.DELIVERED,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesScoreOut(_Model):
    series_uid: str
    description: str
    n_images: int
    orientation: str
    eligible: bool
    score: float | None
    reasons: list[str]
    tr_ms: float | None = None
    te_ms: float | None = None
    ti_ms: float | None = None


class Selection(_Model):
    series_uid: str
    description: str
    score: float
    margin: float
    uncertain: bool
    reasons: list[str]
    series: list[SeriesScoreOut] = Field(default_factory=list)
    method: str = Field("automatic", description="automatic (rules) | manual (a reviewer's pick) | "
                        "none (no T1 found: waits for a reviewer's pick)")
    picked_by: str | None = None


class QcOutcome(_Model):
    status: str | None = None  # node.qc.checks.QcStatus value
    reason_codes: list[str] = Field(default_factory=list)


class ModelRef(_Model):
    role: str  # "segmentation", "interactive", "classifier", ...
    model_id: str
    version: str


class Delivery(_Model):
    status: str | None = None  # e.g. "pending", "delivered", "failed"
    destinations: list[str] = Field(default_factory=list)
    detail: str = ""


class JobResult(_Model):
    """Contents of ``<jobs_dir>/<job_id>/result.json``."""

    job_id: str
    state: JobState = JobState.RECEIVED
    study_uid: str
    series_uid: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source_dir: str | None = Field(None, description="offline run: the input folder")
    warnings: list[str] = Field(default_factory=list)
    selection: Selection | None = None
    qc: QcOutcome = Field(default_factory=QcOutcome)
    volume_ml: float | None = None
    alt_probability: float | None = None
    label: str | None = None
    ood_score: float | None = Field(None, description="distance from the training features")
    ood_flag: bool | None = Field(None, description="case unlike the training data: read P(ALT) with care")
    diameter_mm: float | None = Field(None, description="longest axial diameter of the mask")
    seg_method: str = Field("automatic", description="automatic | interactive | manual")
    quality_score: str | None = Field(None, description="reviewer's score: excellent … incorrect")
    amends: list[str] = Field(default_factory=list, description="SR/SEG UIDs this result supersedes")
    late_data_at: float | None = Field(
        None, description="newest instance (epoch s) that arrived after the job was created and was "
        "acted on (job redone from select, or noted in warnings)")
    models: list[ModelRef] = Field(default_factory=list)
    seg_sop_instance_uid: str | None = None
    sr_sop_instance_uid: str | None = None
    artefacts: dict[str, str] = Field(
        default_factory=dict, description="name → path relative to the job folder"
    )
    completed_stages: list[str] = Field(default_factory=list)
    timings_s: dict[str, float] = Field(default_factory=dict)
    delivery: Delivery = Field(default_factory=Delivery)
    error_code: str | None = None
    error_message: str | None = None
    retries: dict[str, int] = Field(default_factory=dict, description="stage → attempts so far")

    @classmethod
    def from_file(cls, path: Path) -> JobResult:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))

    def supersede_reported(self) -> None:
        """The next report replaces the SEG + SR already written (and perhaps delivered): name
        them in ``amends`` so the new SR carries Predecessor Documents (PS3.3 C.17.2.1)."""
        if self.seg_sop_instance_uid and self.sr_sop_instance_uid:
            self.amends = [self.seg_sop_instance_uid, self.sr_sop_instance_uid]

    def to_file(self, path: Path) -> None:
        write_atomic(Path(path), self.model_dump_json(indent=2).encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename over, fsync the folder (POSIX durability)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
