"""Configuration section ``receive`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class ReceiveConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
