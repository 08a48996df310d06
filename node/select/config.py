"""Configuration section ``select`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class SelectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
