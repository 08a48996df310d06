"""Configuration section ``segment`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class SegmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
