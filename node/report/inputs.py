"""Typed hand-off into the report stage: what the upstream stages concluded."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PredictedClass(StrEnum):
    LIPOMA = "lipoma"
    ALT = "alt"


class QcOutcome(StrEnum):
    """QC of the segmentation shown in the SR: automatic checks, or a clinician's review."""

    PASS = "pass"
    FAIL = "fail"
    REVIEWED = "reviewed"


class SegMethod(StrEnum):
    """How the mask was made (paper: 78 % automatic, 22 % interactive, 3 % manual)."""

    AUTOMATIC = "automatic"
    INTERACTIVE = "interactive"
    MANUAL = "manual"


class PreviousResult(BaseModel):
    """The instances an amended result supersedes (PS3.3 C.17.2.1 Predecessor Documents)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    study_uid: str
    seg_series_uid: str
    seg_uid: str
    sr_series_uid: str
    sr_uid: str


class ReportInputs(BaseModel):
    """Everything the SEG and SR state besides the pixels. ``model_versions`` maps model id →
    version (e.g. {"seg": "demo-1.0", "classifier": "demo-2"}) and feeds the UID entropy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alt_probability: float = Field(ge=0.0, le=1.0)
    label: PredictedClass
    qc_status: QcOutcome
    qc_reasons: tuple[str, ...] = ()
    seg_method: SegMethod
    ood: bool
    volume_ml: float = Field(ge=0.0)
    diameter_mm: float | None = Field(None, ge=0.0, description="None: the NUM is omitted")
    model_versions: dict[str, str] = Field(min_length=1)
    amended_from: PreviousResult | None = None
    sequences: tuple[str, ...] = Field(
        (), description="MR sequences the classifier used (multi-sequence model); () = T1 only")

    @model_validator(mode="after")
    def _versions_are_text(self) -> ReportInputs:
        for k, v in self.model_versions.items():
            if not k or not v:
                raise ValueError("model_versions needs non-empty ids and versions")
        return self


class ReportOutput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seg_path: Path
    sr_path: Path
    study_uid: str
    seg_uid: str
    seg_series_uid: str
    sr_uid: str
    sr_series_uid: str
    headline: str
