"""Configuration section ``send`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class SendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
