"""Configuration section ``radiomics`` (see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class RadiomicsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
