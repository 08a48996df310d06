"""Model bundle: ``model.joblib`` (ensemble + OOD detector + clinical encoder) next to
``manifest.json`` (what it needs and how well it did).

A bundle is self-describing (nnU-Net style: load once, predict many times). It refuses to
score a feature vector extracted with other settings, and refuses to load under
scikit-learn / xgboost / imbalanced-learn versions other than the ones it was pickled with
(major.minor) — both raise :class:`node.errors.ModelBundleMismatch`.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from pydantic import BaseModel, ConfigDict

from node.classify.data import ClinicalEncoder, Label, ModelKind, vector_row
from node.classify.ensemble import Ensemble
from node.classify.ood import OodDetector
from node.errors import ModelBundleMismatch
from node.radiomics.features import FeatureVector

MODEL_FILE = "model.joblib"
#: the bundled demo classifier, used when ``classify.bundle`` names none
DEMO_BUNDLE = Path(__file__).resolve().parents[1] / "models" / "demo" / "classifier"
MANIFEST_FILE = "manifest.json"
_PINNED = ("scikit-learn", "xgboost", "imbalanced-learn")


def package_versions() -> dict[str, str]:
    names = ("scikit-learn", "xgboost", "imbalanced-learn", "numpy", "pyradiomics-bhklab",
             "SimpleITK")
    out = {n: pkg_version(n) for n in names}
    out["python"] = platform.python_version()
    return out


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_id: str
    version: str
    model_kind: ModelKind
    feature_names: list[str]
    settings_hash: str | None          # None for the clinical-only model
    package_versions: dict[str, str]
    training_cohort: str
    training_cohort_hash: str
    n_train: int
    n_alt: int
    n_workflows: int
    top_k: int
    seed: int
    cv: dict[str, Any]
    threshold: float
    ood_threshold: float
    members: list[dict[str, Any]]      # the top-K workflow specs with their inner-CV AUC
    # Platt map on the ensemble's P(ALT): {"a", "b", "fitted_on", "n"}; None = raw posterior
    calibration: dict[str, Any] | None = None


@dataclass(frozen=True)
class Prediction:
    alt_probability: float
    label: Label
    ood_score: float
    ood_flag: bool
    model_id: str
    version: str


class Bundle:
    """A loaded (or freshly trained) classifier. Build with :func:`load_bundle`."""

    def __init__(self, manifest: Manifest, ensemble: Ensemble, ood: OodDetector,
                 encoder: ClinicalEncoder) -> None:
        self.manifest = manifest
        self.ensemble = ensemble
        self.ood = ood
        self.encoder = encoder

    @property
    def uses_image_features(self) -> bool:
        return self.manifest.model_kind is not ModelKind.CLINICAL

    def _check(self, features: FeatureVector | None) -> None:
        if not self.uses_image_features:
            return
        if features is None:
            raise ModelBundleMismatch(f"model {self.manifest.model_id} "
                                      f"({self.manifest.model_kind.value}) needs image features")
        if features.settings_hash != self.manifest.settings_hash:
            raise ModelBundleMismatch(
                f"features were extracted with settings {features.settings_hash}, model "
                f"{self.manifest.model_id} was trained on {self.manifest.settings_hash}: "
                "extract with the model's parameter file or retrain")

    def predict_rows(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(ALT) and OOD score for rows already in ``manifest.feature_names`` order.

        P(ALT) is read as a probability, so a bundle with a calibration map applies it here:
        every caller (stage, CLI, evaluation) gets the same calibrated value.
        """
        p = self.ensemble.predict_proba(X)
        cal = self.manifest.calibration
        if cal is not None:
            p = platt_apply(p, float(cal["a"]), float(cal["b"]))
        return p, self.ood.score(X)

    def predict(self, features: FeatureVector | None,
                clinical: dict[str, Any] | None = None) -> Prediction:
        """Score one case. Raises ModelBundleMismatch on another settings hash."""
        self._check(features)
        row = vector_row(self.manifest.model_kind, features, clinical, self.encoder,
                         self.manifest.feature_names)
        prob, score = self.predict_rows(row)
        p, s = float(prob[0]), float(score[0])
        return Prediction(alt_probability=p,
                          label=Label.ALT if p >= self.manifest.threshold else Label.LIPOMA,
                          ood_score=s, ood_flag=bool(s > self.manifest.ood_threshold),
                          model_id=self.manifest.model_id, version=self.manifest.version)

    def save(self, out_dir: Path) -> Path:
        """Write ``model.joblib`` + ``manifest.json`` into ``out_dir`` (created)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / (MODEL_FILE + ".tmp")
        joblib.dump({"ensemble": self.ensemble, "ood": self.ood, "encoder": self.encoder},
                    tmp, compress=("xz", 6))
        tmp.replace(out_dir / MODEL_FILE)
        (out_dir / MANIFEST_FILE).write_text(self.manifest.model_dump_json(indent=1))
        return out_dir


def platt_apply(p: np.ndarray, a: float, b: float) -> np.ndarray:
    """Platt scaling: sigmoid(a * logit(p) + b), p clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return 1.0 / (1.0 + np.exp(-(a * np.log(q / (1 - q)) + b)))


def _major_minor(v: str) -> str:
    return ".".join(v.split(".")[:2])


def load_bundle(path: Path | str) -> Bundle:
    """Load a bundle folder (or its ``model.joblib``), checking pinned package versions."""
    path = Path(path)
    folder = path.parent if path.is_file() else path
    mpath = folder / MANIFEST_FILE
    if not mpath.is_file() or not (folder / MODEL_FILE).is_file():
        raise ModelBundleMismatch(f"{folder}: not a model bundle ({MANIFEST_FILE} + "
                                  f"{MODEL_FILE} expected)")
    manifest = Manifest.model_validate(json.loads(mpath.read_text()))
    now = package_versions()
    for name in _PINNED:
        if _major_minor(manifest.package_versions.get(name, "")) != _major_minor(now[name]):
            raise ModelBundleMismatch(
                f"bundle {manifest.model_id} was built with {name} "
                f"{manifest.package_versions.get(name)}, installed is {now[name]}")
    obj = joblib.load(folder / MODEL_FILE)
    return Bundle(manifest, obj["ensemble"], obj["ood"], obj["encoder"])
