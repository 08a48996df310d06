"""Configuration section ``store`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
