"""Configuration section ``classify`` (see config.yaml)."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ClassifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bundle: Path | None = Field(
        None, description="model bundle folder; null = node/models/demo/classifier")
    n_workflows: int = Field(1000, ge=1, description="random workflows searched (WORC: 1000)")
    top_k: int = Field(100, ge=1, description="best workflows averaged in the ensemble")
    n_splits: int = Field(5, ge=2, description="inner stratified shuffle splits (80/20)")
    seed: int = Field(0, ge=0)
    n_jobs: int = Field(1, ge=-1, description="joblib workers (-1 = all cores)")
    threshold: float = Field(0.5, gt=0, lt=1, description="P(ALT) at or above -> label alt")
    ood_quantile: float = Field(0.99, ge=0.5, lt=1,
                                description="OOD flag above this quantile of training scores")
    cv_repeats: int = Field(0, ge=0, description="outer 80/20 CV repeats for the CI "
                            "(paper: 100; 0 = skip)")
    cv_workflows: int | None = Field(None, ge=1,
                                     description="workflows per outer repeat; null = n_workflows")
    model: Literal["t1", "multi_sequence"] = Field(
        "t1", description="t1: T1 features only; multi_sequence: T1 + T1-FS/T1-GD/T2 registered "
        "with elastix, missing sequences imputed (needs a multi-sequence bundle)")
    multi_sequence_bundle: Path | None = Field(
        None, description="bundle for model multi_sequence; null = "
        "node/models/demo/classifier_multi_sequence")
