"""Configuration section ``classify`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class ClassifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
