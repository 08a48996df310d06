"""Configuration section ``qc`` (see config.yaml): thresholds of the automatic checks."""

from pydantic import BaseModel, ConfigDict, Field


class QcConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_volume_ml: float = Field(1.0, ge=0, description="smaller masks are implausible")
    max_volume_ml: float = Field(5000.0, gt=0, description="larger masks are implausible")
    max_border_fraction: float = Field(
        0.005, ge=0, le=1, description="share of tumour voxels allowed on the FOV's outer faces"
    )
    large_component_fraction: float = Field(
        0.1, gt=0, le=1, description="a component is 'large' at this share of the largest one"
    )
    large_component_min_ml: float = Field(0.5, ge=0, description="... and at least this volume")
    max_large_components: int = Field(1, ge=1)
    min_agreement_dice: float = Field(0.8, ge=0, le=1, description="Dice between TTA/fold variants")
    min_mean_confidence: float = Field(
        0.85, ge=0, le=1, description="mean foreground softmax inside the predicted mask"
    )
