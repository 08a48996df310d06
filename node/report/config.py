"""Configuration section ``report`` (see config.yaml)."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ReportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    templates_file: Path | None = Field(
        None, description="DICOM templates JSON; null = dicom_templates/lipo_node_v1.json"
    )
    mark_final: bool = Field(
        False, description="SR Completion/Verification: false = PARTIAL/UNVERIFIED (decision support)"
    )
    key_image: bool = Field(
        True, description="also send a Secondary Capture key image (T1 slice, outline, result text) "
                          "for PACS viewers that show neither SEG nor SR"
    )
