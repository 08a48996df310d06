"""Train the QC quality regressor on the QC development set (training generators only).

``lipo-node qc-quality collect`` measures (mask, Dice) pairs on cases made by the *training*
generators (``synth labelmaps`` / ``synth randomised``) whose model probabilities are cached
(``predict_cached``): the model's mask as the pipeline makes it, the raw mask, and perturbed
truths (node.classify.maskaug and the QC-tuning perturbations). ``lipo-node qc-quality train``
fits a quantile gradient-boosting regressor, predicts every sample out-of-fold (folds grouped
by case, so a case's own masks never grade it) and picks the threshold on those out-of-fold
predictions: the lowest at which every passed mask has Dice ≥ ``floor`` and ≥ ``share`` of them
≥ ``good``, plus a margin. Never run this on a hold-out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from node.qc.quality import FEATURES, QualityModel, feature_vector, softmax_features


@dataclass(frozen=True)
class QualitySample:
    case: str
    kind: str
    dice: float
    measurements: dict[str, float | None]
    extra: dict[str, float]

    def x(self) -> np.ndarray:
        return feature_vector(self.measurements, self.extra)


def collect(case_dirs: list[Path], segmenter: object, qc_cfg: object, cache: Path,
            copies: int = 4, seed: int = 0,
            progress: Callable[[QualitySample], None] | None = None,
            save_to: Path | None = None) -> list[QualitySample]:
    """Measured masks of every case: pipeline mask, raw (threshold only) mask, perturbations;
    ``save_to`` is rewritten after every case (a long run cut short keeps what it measured)."""
    from node.classify.maskaug import perturb
    from node.qc.tuning import PERTURBATIONS, load_case, measure_mask
    from node.segment.evaluate import predict_cached
    from node.segment.geometry import geometry_of
    from node.segment.nnunet import dice

    out: list[QualitySample] = []
    for ci, case in enumerate(case_dirs):
        array, truth, image = load_case(case)
        if not truth.any():
            continue
        mask = predict_cached(segmenter, image, case.name, cache)  # type: ignore[arg-type]
        prob = mask.probabilities
        geometry = geometry_of(image)
        sx, sy, sz = geometry.spacing
        voxel_ml = sx * sy * sz / 1000.0
        masks: list[tuple[str, np.ndarray]] = [("model", mask.array.astype(bool))]
        if prob is not None:
            masks.append(("raw", prob > 0.5))
        rng = np.random.default_rng([seed, ci])
        for k in range(copies):
            masks.append((f"maskaug{k}", perturb(array, truth, (sz, sy, sx), rng).mask.astype(bool)))
        for name in ("grow_fat_8", "cut_half_y"):
            masks.append((name, PERTURBATIONS[name](array, truth)))
        for kind, m in masks:
            if not m.any():
                continue
            s = QualitySample(case.name, kind, round(dice(m, truth), 4),
                              measure_mask(array, m, image, qc_cfg),  # type: ignore[arg-type]
                              softmax_features(m, prob, voxel_ml))
            out.append(s)
            if progress:
                progress(s)
        if save_to is not None:
            save_samples(out, save_to)
    return out


def save_samples(samples: list[QualitySample], path: Path) -> None:
    from node import atomic

    atomic.write_text(path, json.dumps([asdict(s) for s in samples], indent=0) + "\n")


def load_samples(path: Path) -> list[QualitySample]:
    return [QualitySample(**d) for d in json.loads(Path(path).read_text(encoding="utf-8"))]


def make_estimator(alpha: float = 0.2, seed: int = 0) -> object:
    """Quantile gradient boosting: a pessimistic (``alpha``-quantile) Dice estimate; handles the
    NaN of a skipped check natively."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(loss="quantile", quantile=alpha, max_iter=300,
                                         learning_rate=0.05, max_leaf_nodes=15,
                                         min_samples_leaf=10, l2_regularization=1.0,
                                         random_state=seed)


def out_of_fold(samples: list[QualitySample], alpha: float = 0.2, folds: int = 5,
                seed: int = 0) -> np.ndarray:
    """Every sample's prediction from a model that never saw its case."""
    from sklearn.model_selection import GroupKFold

    x = np.stack([s.x() for s in samples])
    y = np.array([s.dice for s in samples])
    groups = np.array([s.case for s in samples])
    pred = np.zeros(len(samples))
    for tr, te in GroupKFold(n_splits=folds).split(x, y, groups):
        est = make_estimator(alpha, seed)
        est.fit(x[tr], y[tr])  # type: ignore[attr-defined]
        pred[te] = est.predict(x[te])  # type: ignore[attr-defined]
    return pred


def choose_threshold(pred: np.ndarray, dice: np.ndarray, good: float = 0.7, share: float = 0.95,
                     floor: float = 0.5, margin: float = 0.02) -> float:
    """Lowest threshold whose passed masks meet the targets (+ ``margin``); 1.0 if none does."""
    for t in np.round(np.arange(0.3, 1.0, 0.005), 3):
        sel = dice[pred >= t]
        if len(sel) == 0:
            break
        if sel.min() >= floor and float(np.mean(sel >= good)) >= share:
            return round(float(min(1.0, t + margin)), 3)
    return 1.0


def train(samples: list[QualitySample], alpha: float = 0.2, seed: int = 0,
          **target: float) -> tuple[QualityModel, np.ndarray]:
    """The final model on every sample, its threshold from out-of-fold predictions, and those."""
    oof = out_of_fold(samples, alpha, seed=seed)
    dice = np.array([s.dice for s in samples])
    threshold = choose_threshold(oof, dice, **target)
    est = make_estimator(alpha, seed)
    est.fit(np.stack([s.x() for s in samples]), dice)  # type: ignore[attr-defined]
    import sklearn

    meta = {"alpha": alpha, "n_samples": len(samples), "n_cases": len({s.case for s in samples}),
            "kinds": sorted({s.kind.rstrip("0123456789") for s in samples}),
            "sklearn": sklearn.__version__, "target": target, "features_order": list(FEATURES)}
    return QualityModel(est, threshold, meta), oof


def rule_failures(m: dict[str, float | None], cfg: object, skip: frozenset[str] = frozenset()) -> list[str]:
    """The rule-based QC codes (node.qc.checks) these measurements trip under ``cfg``, from the
    stored values alone (no image needed): for comparing rule sets on collected samples."""
    from node.qc.tuning import RULES, fails

    c = cfg  # QcConfig
    out = []
    vol = m.get("volume_ml") or 0.0
    if vol == 0:
        return ["empty_mask"]
    if not c.min_volume_ml <= vol <= c.max_volume_ml:  # type: ignore[attr-defined]
        out.append("volume_out_of_range")
    if (m.get("border_fraction") or 0.0) > c.max_border_fraction:  # type: ignore[attr-defined]
        out.append("touches_fov_border")
    if (m.get("large_components") or 1) > c.max_large_components:  # type: ignore[attr-defined]
        out.append("multiple_components")
    conf = m.get("mean_confidence")
    if conf is not None and conf < c.min_mean_confidence:  # type: ignore[attr-defined]
        out.append("low_confidence")
    thresholds = {f: getattr(c, f) for f, _ in RULES.values()}
    if not getattr(c, "fat_continuity_check", True):
        thresholds.pop("max_fat_continuity")
    out += [n for n in fails(m, thresholds) if n not in skip]
    return [n for n in out if n not in skip]


def compare_rule_sets(samples: list[QualitySample], predicted: np.ndarray, threshold: float,
                      cfg: object, kind: str = "model") -> dict[str, dict[str, float | int | None]]:
    """Review share and delivered-mask quality of the pipeline's masks (``kind``) under: the
    rules alone, rules + regressor, rules without ``fat_continuity`` + regressor, and the
    regressor with only the basic checks. ``predicted`` should be out-of-fold."""
    cfg = cfg.model_copy(update={"fat_continuity_check": True})  # type: ignore[attr-defined]
    idx = [i for i, s in enumerate(samples) if s.kind == kind]
    image_rules = frozenset({"fat_continuity", "skin_contact", "thin_fraction", "solidity",
                             "fat_share", "interactive_dice"})
    variants = {
        "rules": (frozenset(), False),
        "rules+regressor": (frozenset(), True),
        "rules-fat_continuity+regressor": (frozenset({"fat_continuity"}), True),
        "basic+regressor": (image_rules, True),
    }
    out: dict[str, dict[str, float | int | None]] = {}
    for name, (skip, use_reg) in variants.items():
        passed = [samples[i].dice for i in idx
                  if not rule_failures(samples[i].measurements, cfg, skip)
                  and (not use_reg or predicted[i] >= threshold)]
        out[name] = {"n": len(idx), "passed": len(passed),
                     "review_share": round(1 - len(passed) / max(len(idx), 1), 4),
                     "passed_ge_0_7_share": (round(float(np.mean(np.array(passed) >= 0.7)), 4)
                                             if passed else None),
                     "passed_below_0_5": int(sum(d < 0.5 for d in passed)),
                     "min_passed_dice": round(min(passed), 4) if passed else None}
    return out
