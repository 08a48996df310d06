"""Versioned extraction settings (``params/worc_v2.yaml``) and their hash.

The hash is what ties a classifier bundle to the features it was trained on: the bundle's
manifest stores it and ``classify`` refuses to score a feature vector carrying another one
(``ModelBundleMismatch``). It is a SHA-256 over the canonical JSON of the validated settings,
so comments and key order in the YAML do not matter but every value does.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from node.errors import ConfigError

PARAMS_DIR = Path(__file__).resolve().parent / "params"
DEFAULT_PARAMS = PARAMS_DIR / "worc_v2.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Preprocessing(_Strict):
    zscore_whole_image: bool = True
    zscore_scale: float = Field(100.0, gt=0)
    crop_margin_mm: float = Field(12.0, ge=0)
    crop_margin_slices: int = Field(2, ge=0)
    anisotropy_2d_ratio: float = Field(2.0, gt=0)


class LbpSettings(_Strict):
    radius: int = Field(1, ge=1)
    samples: int = Field(8, ge=4)


class GaborSettings(_Strict):
    frequencies: tuple[float, ...] = (0.05, 0.2, 0.5)
    angles_deg: tuple[float, ...] = (0.0, 45.0, 90.0, 135.0)


class VesselSettings(_Strict):
    sigmas_px: tuple[float, ...] = (1.0, 2.0)
    rim_px: int = Field(2, ge=1)


class PhaseSettings(_Strict):
    wavelengths_px: tuple[float, ...] = (3.0, 6.0)
    sigma_on_f: float = Field(0.55, gt=0, lt=1)


class ExtraSettings(_Strict):
    """WORC feature groups that pyradiomics does not provide; ``None`` switches a group off."""

    orientation: bool = True
    gabor: GaborSettings | None = GaborSettings()
    vesselness: VesselSettings | None = VesselSettings()
    phase: PhaseSettings | None = PhaseSettings()


class ExtractionSettings(_Strict):
    """One validated parameter file. Build with :func:`load_settings`."""

    version: str
    preprocessing: Preprocessing = Preprocessing()
    pyradiomics: dict[str, float | int | bool | str] = Field(default_factory=dict)
    texture_classes: tuple[str, ...] = ("firstorder", "shape", "glcm", "glrlm", "glszm",
                                        "gldm", "ngtdm")
    filtered_classes: tuple[str, ...] = ("firstorder",)
    log_sigma_mm: tuple[float, ...] = (1.0, 5.0, 10.0)
    lbp: LbpSettings | None = LbpSettings()
    extra: ExtraSettings = ExtraSettings()

    @property
    def settings_hash(self) -> str:
        """SHA-256 (hex, first 16 chars) of the canonical JSON of these settings."""
        canon = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:16]


def load_settings(path: Path | str | None = None) -> ExtractionSettings:
    """Read and validate a parameter file (default: the bundled ``worc_v2.yaml``)."""
    p = Path(path) if path is not None else DEFAULT_PARAMS
    try:
        raw = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"radiomics parameter file {p}: cannot read ({exc})") from exc
    try:
        return ExtractionSettings.model_validate(raw)
    except ValueError as exc:
        raise ConfigError(f"radiomics parameter file {p}: invalid ({exc})") from exc
