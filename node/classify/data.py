"""Model inputs: which columns each model kind sees, and the clinical encoding.

The paper (Spaanderman et al. 2024, Methods/Radiomics) compares an imaging model, a
volume-only model, a clinical-only model (age, sex, tumour location; we add depth, which the
synthetic cohorts record) and imaging + clinical; all are built by the same AutoML code and
differ only in their input columns.
"""

from __future__ import annotations

import hashlib
import math
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from node.errors import LipoNodeError
from node.radiomics.features import FeatureVector, feature_group
from node.vocab import Label

VOLUME_SOURCE = "original_shape_VoxelVolume"  # mm^3, pyradiomics shape
VOLUME_COLUMN = "volume_ml"
CLINICAL_KEYS = ("age", "sex", "location", "depth")


class ModelKind(StrEnum):
    RADIOMICS = "radiomics"
    CLINICAL = "clinical"
    VOLUME = "volume"
    COMBINED = "combined"


class CohortError(LipoNodeError):
    """A training/evaluation cohort is unusable (missing labels, unknown label values)."""

    code = "cohort_invalid"


class ClinicalEncoder(BaseModel):
    """age → years; sex → 1 if male; depth → 1 if deep; location → one-hot over training's."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    locations: tuple[str, ...]

    @classmethod
    def from_frame(cls, labels: pd.DataFrame) -> ClinicalEncoder:
        locs = labels["location"].dropna().astype(str).str.lower() if "location" in labels \
            else pd.Series([], dtype=str)
        return cls(locations=tuple(sorted(set(locs))))

    @property
    def columns(self) -> tuple[str, ...]:
        return ("clinical_age", "clinical_sex_male", "clinical_depth_deep",
                *(f"clinical_location_{loc}" for loc in self.locations))

    def encode(self, clinical: dict[str, Any] | None) -> dict[str, float]:
        c = {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else v)
             for k, v in (clinical or {}).items()}
        out = {"clinical_age": float(c["age"]) if c.get("age") is not None else math.nan}
        sex = str(c.get("sex") or "").strip().lower()
        out["clinical_sex_male"] = (1.0 if sex in ("m", "male") else 0.0 if sex in ("f", "female")
                                    else math.nan)
        depth = str(c.get("depth") or "").strip().lower()
        out["clinical_depth_deep"] = (1.0 if depth == "deep" else 0.0
                                      if depth == "superficial" else math.nan)
        loc = str(c.get("location") or "").strip().lower()
        for known in self.locations:
            out[f"clinical_location_{known}"] = (math.nan if not loc else float(loc == known))
        return out


def read_labels(cohort_dir: Path) -> pd.DataFrame:
    """``labels.csv`` indexed by Patient, with ``y`` = 1 for ALT, 0 for lipoma."""
    path = Path(cohort_dir) / "labels.csv"
    if not path.is_file():
        raise CohortError(f"{path} not found (WORC layout needs labels.csv)")
    df = pd.read_csv(path, dtype={"Patient": str}).set_index("Patient")
    if "label" not in df:
        raise CohortError(f"{path}: no 'label' column")
    lab = df["label"].astype(str).str.strip().str.lower()
    bad = sorted(set(lab) - {Label.ALT.value, Label.LIPOMA.value})
    if bad:
        raise CohortError(f"{path}: unknown label values {bad} (expected lipoma|alt)")
    df["y"] = (lab == Label.ALT.value).astype(int)
    return df


def image_columns(kind: ModelKind, feature_names: list[str]) -> list[str]:
    if kind in (ModelKind.RADIOMICS, ModelKind.COMBINED):
        return list(feature_names)
    return []


def model_frame(kind: ModelKind, features: pd.DataFrame | None, labels: pd.DataFrame,
                encoder: ClinicalEncoder) -> pd.DataFrame:
    """The input matrix of ``kind`` for the patients of ``labels`` (row order kept)."""
    parts = []
    if kind in (ModelKind.RADIOMICS, ModelKind.COMBINED, ModelKind.VOLUME):
        if features is None:
            raise CohortError(f"model {kind.value} needs image features")
        missing = [p for p in labels.index if p not in features.index]
        if missing:
            raise CohortError(f"{len(missing)} labelled patients have no features, "
                              f"e.g. {missing[:3]}")
        f = features.loc[labels.index]
        if kind is ModelKind.VOLUME:
            parts.append(pd.DataFrame({VOLUME_COLUMN: f[VOLUME_SOURCE] / 1000.0}))
        else:
            parts.append(f)
    if kind in (ModelKind.CLINICAL, ModelKind.COMBINED):
        rows = [encoder.encode(r) for r in labels[[k for k in CLINICAL_KEYS if k in labels]]
                .to_dict("records")]
        parts.append(pd.DataFrame(rows, index=labels.index, columns=list(encoder.columns)))
    return pd.concat(parts, axis=1)


def vector_row(kind: ModelKind, fv: FeatureVector | None, clinical: dict[str, Any] | None,
               encoder: ClinicalEncoder, columns: list[str]) -> np.ndarray:
    """One case as a row in the bundle's column order."""
    vals: dict[str, float] = {}
    if fv is not None:
        d = fv.as_dict()
        if kind is ModelKind.VOLUME:
            vals[VOLUME_COLUMN] = d[VOLUME_SOURCE] / 1000.0
        else:
            vals.update(d)
    if kind in (ModelKind.CLINICAL, ModelKind.COMBINED):
        vals.update(encoder.encode(clinical))
    return np.array([[vals.get(c, math.nan) for c in columns]], dtype=np.float64)


def groups_of(columns: list[str]) -> tuple[str, ...]:
    return tuple(feature_group(c) for c in columns)


def cohort_hash(X: pd.DataFrame, y: np.ndarray) -> str:
    """SHA-256 (16 hex) over patients, labels and the rounded input matrix."""
    h = hashlib.sha256()
    h.update("|".join(map(str, X.index)).encode())
    h.update(np.asarray(y, dtype=np.int8).tobytes())
    h.update("|".join(X.columns).encode())
    h.update(np.round(X.to_numpy(dtype=np.float64), 6).tobytes())
    return h.hexdigest()[:16]
