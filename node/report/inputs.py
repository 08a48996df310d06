"""Typed hand-off into the report stage: what the upstream stages concluded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from node.errors import ReportError
from node.vocab import Label, QcStatus, SegMethod


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
    label: Label
    qc_status: QcStatus
    qc_reasons: tuple[str, ...] = ()
    seg_method: SegMethod
    ood: bool
    volume_ml: float = Field(ge=0.0)
    diameter_mm: float | None = Field(None, ge=0.0, description="None: the NUM is omitted")
    model_versions: dict[str, str] = Field(min_length=1)
    amended_from: PreviousResult | None = None
    sequences: tuple[str, ...] = Field(
        (), description="MR sequences the classifier used (multi-sequence model); () = T1 only")
    series_selection: Literal["automatic", "manual"] = Field(
        "automatic", description="manual: a reviewer picked the T1 series in the worklist")

    @model_validator(mode="after")
    def _versions_are_text(self) -> ReportInputs:
        for k, v in self.model_versions.items():
            if not k or not v:
                raise ValueError("model_versions needs non-empty ids and versions")
        return self

    @property
    def algorithm_version(self) -> str:
        """"id:version+id:version" for the SEG's and the SR's algorithm identification (VR LO).

        Raises ReportError rather than truncating: a cut version no longer names the models.
        """
        version = "+".join(f"{k}:{v}" for k, v in sorted(self.model_versions.items()))
        if len(version) > 64:
            raise ReportError(f"algorithm version '{version}' is longer than 64 characters (VR LO)")
        return version


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
    key_image_path: Path | None = None
    key_image_uid: str | None = None
    key_image_series_uid: str | None = None
