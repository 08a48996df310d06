"""Configuration section ``report`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class ReportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
