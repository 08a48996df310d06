"""Configuration section ``radiomics`` (see config.yaml)."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RadiomicsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params_file: Path | None = Field(
        None, description="versioned parameter YAML; null = node/radiomics/params/worc_v2.yaml")
    n_jobs: int = Field(1, ge=-1, description="parallel workers for cohort extraction (-1 = all)")
    cache_dir: Path | None = Field(
        None, description="per-case feature cache; null = <data_dir>/radiomics_cache")
    registration_file: Path | None = Field(
        None, description="multi-sequence registration YAML (elastix stages); null = "
        "node/radiomics/params/registration_v1.yaml")
