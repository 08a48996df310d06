"""Configuration section ``qc`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class QcConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
