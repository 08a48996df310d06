"""Learned quality regressor for QC: a conservative estimate of a mask's Dice (issue 14).

Each QC rule looks at one property of the mask; a good mask of an unusual tumour trips one rule
(``fat_continuity`` flags right masks that stop one voxel inside the tumour), while a wrong
mask may stay just inside every threshold. The regressor looks at all of them together:
the image-based measurements of :mod:`node.qc.anatomy`, the interactive model's agreement,
volume and shape, plus the model's softmax around the mask (as *extra* features: the issue
warns that confidence alone does not guard delivery). It predicts a low quantile of the Dice
(gradient boosting with a quantile loss), so a mask passes only when even a pessimistic
estimate is high.

Trained on (mask, Dice) pairs from the QC development set (label-map bodies and randomised
twin cases made by the *training* generators, never a hold-out): the model's masks, refined
masks and perturbations of the truth (node.classify.maskaug). The file ships with the demo
models (``node/models/demo/quality``); its threshold comes with it (chosen out-of-fold on the
development set) and can be overridden in ``qc.min_predicted_quality``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

DEMO_QUALITY_DIR = Path(__file__).resolve().parents[1] / "models" / "demo" / "quality"

#: measurement keys from ``run_qc`` (node.qc.checks) used as features, in this order
QC_FEATURES = ("fat_continuity", "skin_contact", "thin_fraction", "solidity", "fat_share",
               "interactive_dice", "border_fraction", "large_components")
#: computed here from the mask and the softmax
EXTRA_FEATURES = ("log_volume_ml", "prob_inside", "prob_rim_outside", "prob_edge",
                  "model_mask_dice", "model_mask_cover")
FEATURES = QC_FEATURES + EXTRA_FEATURES

#: 4-connected in-plane neighbourhood (no through-plane step: slices are 3-6 mm apart)
_CROSS = ndimage.generate_binary_structure(2, 1)[np.newaxis]


def softmax_features(mask: np.ndarray, prob: np.ndarray | None, voxel_ml: float) -> dict[str, float]:
    """Volume and where the model's probability sits relative to this mask."""
    fg = mask.astype(bool)
    n = int(fg.sum())
    out = {"log_volume_ml": float(np.log10(max(n * voxel_ml, 1e-3)))}
    if prob is None or n == 0:
        return {**out, **{k: float("nan") for k in EXTRA_FEATURES[1:]}}
    p = prob.astype(np.float32)
    edge = fg & ~ndimage.binary_erosion(fg, structure=_CROSS)
    rim = ndimage.binary_dilation(fg, structure=_CROSS) & ~fg
    model = p > 0.5
    inter = int((model & fg).sum())
    out.update({
        "prob_inside": float(p[fg].mean()),
        "prob_rim_outside": float(p[rim].mean()) if rim.any() else 0.0,
        "prob_edge": float(p[edge].mean()) if edge.any() else 0.0,
        "model_mask_dice": 2.0 * inter / max(n + int(model.sum()), 1),
        "model_mask_cover": inter / max(int(model.sum()), 1),
    })
    return out


def feature_vector(measurements: Mapping[str, float | None], extra: Mapping[str, float]) -> np.ndarray:
    """The features in :data:`FEATURES` order (missing → NaN; the model handles NaN)."""
    vals = []
    for k in FEATURES:
        v = extra.get(k, measurements.get(k)) if k in EXTRA_FEATURES else measurements.get(k)
        vals.append(float("nan") if v is None else float(v))
    return np.asarray(vals, np.float64)


@dataclass(frozen=True)
class QualityModel:
    """A fitted regressor (scikit-learn, ``predict`` on a (n, len(FEATURES)) array) and the
    threshold its development run chose."""

    estimator: object
    threshold: float
    meta: dict[str, object]

    def predict(self, x: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        arr = np.atleast_2d(np.asarray(x, np.float64))
        return np.asarray(self.estimator.predict(arr), np.float64)  # type: ignore[attr-defined]


def save_quality_model(model: QualityModel, folder: Path) -> None:
    import joblib

    from node import atomic

    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.estimator, folder / "model.joblib", compress=3)
    atomic.write_text(folder / "meta.json", json.dumps(
        {**model.meta, "features": list(FEATURES), "threshold": model.threshold}, indent=1) + "\n")


_CACHE: dict[Path, QualityModel | None] = {}


def load_quality_model(folder: Path | None = None) -> QualityModel | None:
    """The shipped regressor (None when absent: the check is then skipped, not passed)."""
    folder = Path(folder or DEMO_QUALITY_DIR).resolve()
    if folder not in _CACHE:
        if not (folder / "model.joblib").is_file():
            _CACHE[folder] = None
        else:
            import joblib

            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if meta.get("features") != list(FEATURES):
                raise ValueError(f"{folder}: quality model was trained on other features")
            _CACHE[folder] = QualityModel(joblib.load(folder / "model.joblib"),
                                          float(meta["threshold"]), meta)
    return _CACHE[folder]
