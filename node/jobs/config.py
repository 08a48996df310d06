"""Configuration section ``jobs`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class JobsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
