"""Job states and the ``result.json`` model (ARCHITECTURE.md "Contracts").

``result.json`` is the durable record of a job: every stage writes its outputs into it through
:class:`JobResult` (pydantic, ``extra="forbid"``: a typo in a field name fails loudly instead of
silently adding a key nobody reads), and retry counters live in it so a restart resumes with the
same counts (STYLE.md #10). Where it lives and how it is written: :mod:`node.jobs.folder`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from node import atomic
from node.select.record import Selection, SeriesScoreOut  # noqa: F401 (embedded; re-exported)
from node.vocab import DeliveryState, Label, QcStatus, QualityScore, SegMethod


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
    # validate_assignment: ``result.qc.status = "pass"`` stores QcStatus.PASS, and a value the
    # vocabulary does not know fails where it is assigned, not when result.json is read back
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class QcOutcome(_Model):
    """What the QC stage (or a reviewer) concluded, as result.json records it."""

    status: QcStatus | None = None
    reason_codes: list[str] = Field(default_factory=list)


class ModelRef(_Model):
    role: str  # "segmentation", "interactive", "classifier", ...
    model_id: str
    version: str


class Delivery(_Model):
    status: DeliveryState | None = None
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
    label: Label | None = None
    ood_score: float | None = Field(None, description="distance from the training features")
    ood_flag: bool | None = Field(None, description="case unlike the training data: read P(ALT) with care")
    diameter_mm: float | None = Field(None, description="longest axial diameter of the mask")
    seg_method: SegMethod = SegMethod.AUTOMATIC
    quality_score: QualityScore | None = Field(None, description="the reviewer's score")
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
        atomic.write_text(Path(path), self.model_dump_json(indent=2))
