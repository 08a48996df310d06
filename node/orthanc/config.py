"""Configuration section ``orthanc`` (see config.yaml): the PACS lipo-node sits beside."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class OrthancFilters(BaseModel):
    """Which studies pull mode takes (the plugin in deploy/orthanc has the same filters)."""

    model_config = ConfigDict(extra="forbid")
    modalities: list[str] = ["MR"]
    body_part_patterns: list[str] = Field(default_factory=list, description="regexes; [] = any")
    study_description_patterns: list[str] = Field(default_factory=list, description="regexes; [] = any")
    series_description_exclude: list[str] = [r"(?i)localizer|scout|survey"]
    exclude_manufacturers: list[str] = Field(
        default_factory=lambda: ["lipo-node"], description="never pull our own SEG/SR back"
    )


class OrthancConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = "http://127.0.0.1:8042"
    username: str | None = None
    password: SecretStr | None = None
    node_modality: str = Field("lipo-node", description="this node's name in Orthanc's DicomModalities")
    pull_enabled: bool = Field(False, description="poll Orthanc's /changes for StableStudy")
    poll_interval_s: float = 5.0
    pull_history: bool = Field(False, description="on first start also take studies already in Orthanc")
    filters: OrthancFilters = OrthancFilters()
