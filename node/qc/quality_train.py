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


def drop_end_slices(truth: np.ndarray, first: int, last: int) -> np.ndarray:
    """Truth without its ``first`` lowest and ``last`` highest tumour slices (an end-slice loss)."""
    zs = np.flatnonzero(truth.any(axis=(1, 2)))
    out = truth.copy()
    if len(zs) > first + last:
        out[zs[0]:zs[0] + first] = False
        if last:
            out[zs[-1] - last + 1:zs[-1] + 1] = False
    return out


def _near_truth() -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """'Almost right' masks like the hold-out's (a one-voxel rim missing, an end slice lost)
    beside wrong ones (a deeper rim, over-growth, small and large leaks into fat, a shift, a
    half-cut truth): Dice spread over the 0.5-0.95 range the threshold has to split."""
    from scipy import ndimage

    from node.qc.tuning import cut_half, erode, grow_into_fat

    cross = ndimage.generate_binary_structure(2, 1)[np.newaxis]  # in-plane, as node.qc.quality

    return {
        "nt_erode_1": lambda img, t: erode(t, 1),
        "nt_erode_1_ends": lambda img, t: erode(drop_end_slices(t, 1, 1), 1),
        "nt_ends_1": lambda img, t: drop_end_slices(t, 1, 1),
        "nt_erode_2": lambda img, t: erode(t, 2),
        "nt_dilate_1": lambda img, t: ndimage.binary_dilation(t, structure=cross),
        "nt_dilate_2": lambda img, t: ndimage.binary_dilation(t, structure=cross, iterations=2),
        "nt_grow_fat_3": lambda img, t: grow_into_fat(img, t, 3),
        "nt_grow_fat_20": lambda img, t: grow_into_fat(img, t, 20),
        "nt_shift_2": lambda img, t: np.roll(t, (2, 2), axis=(1, 2)),
        "nt_cut_half_y": lambda img, t: cut_half(t, 1),
    }


def synthetic_probability(mask: np.ndarray) -> np.ndarray:
    """The softmax of a confident model whose 0.5 mask is ``mask`` (blurred edge, ~0.97 inside):
    a perturbed truth then looks to the softmax features like a pipeline mask, as it would if the
    model had made it (the issue's wrong masks came with confidence 0.96)."""
    from scipy import ndimage

    blur = ndimage.gaussian_filter(mask.astype(np.float32), sigma=(0.4, 0.8, 0.8))
    p = 0.02 + 0.95 * blur
    p[mask] = np.maximum(p[mask], 0.55)
    p[~mask] = np.minimum(p[~mask], 0.45)
    return p.astype(np.float32)


def collect(case_dirs: list[Path], segmenter: object, qc_cfg: object, cache: Path,
            copies: int = 4, seed: int = 0,
            progress: Callable[[QualitySample], None] | None = None,
            save_to: Path | None = None, model_masks: bool = True,
            near_truth: bool = False) -> list[QualitySample]:
    """Measured masks of every case: pipeline mask, raw (threshold only) mask, perturbations
    (``model_masks``), and ``near_truth`` masks scored with a :func:`synthetic_probability`;
    ``save_to`` is rewritten after every case (a long run cut short keeps what it measured)."""
    from node.classify.maskaug import perturb
    from node.qc.tuning import PERTURBATIONS, load_case, measure_mask
    from node.segment.evaluate import predict_cached
    from node.segment.geometry import geometry_of
    from node.segment.nnunet import dice

    near = _near_truth() if near_truth else {}
    out: list[QualitySample] = []
    for ci, case in enumerate(case_dirs):
        array, truth, image = load_case(case)
        if not truth.any():
            continue
        geometry = geometry_of(image)
        sx, sy, sz = geometry.spacing
        voxel_ml = sx * sy * sz / 1000.0
        masks: list[tuple[str, np.ndarray, np.ndarray | None]] = []
        if model_masks:
            mask = predict_cached(segmenter, image, case.name, cache)  # type: ignore[arg-type]
            prob = mask.probabilities
            masks.append(("model", mask.array.astype(bool), prob))
            if prob is not None:
                masks.append(("raw", prob > 0.5, prob))
            rng = np.random.default_rng([seed, ci])
            for k in range(copies):
                masks.append((f"maskaug{k}", perturb(array, truth, (sz, sy, sx), rng).mask.astype(bool),
                              prob))
            for name in ("grow_fat_8", "cut_half_y"):
                masks.append((name, PERTURBATIONS[name](array, truth), prob))
        for name, fn in near.items():
            m = fn(array, truth).astype(bool)
            masks.append((name, m, synthetic_probability(m)))
        for kind, m, p in masks:
            if not m.any():
                continue
            s = QualitySample(case.name, kind, round(dice(m, truth), 4),
                              measure_mask(array, m, image, qc_cfg),  # type: ignore[arg-type]
                              softmax_features(m, p, voxel_ml))
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


def balance_weights(dice: np.ndarray, width: float = 0.1) -> np.ndarray:
    """Sample weights equalising the Dice bins (``width`` wide): the development set's many
    wrong masks must not drown the few near-threshold ones the regressor has to split."""
    n_bins = round(1 / width)
    bins = np.minimum((np.asarray(dice) / width).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    w = 1.0 / counts[bins]
    return w * len(w) / w.sum()


def _fit(x: np.ndarray, y: np.ndarray, alpha: float, seed: int, balance: bool) -> object:
    est = make_estimator(alpha, seed)
    est.fit(x, y, sample_weight=balance_weights(y) if balance else None)  # type: ignore[attr-defined]
    return est


def out_of_fold(samples: list[QualitySample], alpha: float = 0.2, folds: int = 5,
                seed: int = 0, balance: bool = False) -> np.ndarray:
    """Every sample's prediction from a model that never saw its case."""
    from sklearn.model_selection import GroupKFold

    x = np.stack([s.x() for s in samples])
    y = np.array([s.dice for s in samples])
    groups = np.array([s.case for s in samples])
    pred = np.zeros(len(samples))
    for tr, te in GroupKFold(n_splits=folds).split(x, y, groups):
        pred[te] = _fit(x[tr], y[tr], alpha, seed, balance).predict(x[te])  # type: ignore[attr-defined]
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


def deliverable(sample: QualitySample) -> bool:
    """Masks that look to QC like a pipeline mask: the model's own, and the near-truth
    perturbations scored with a synthetic confident softmax. The threshold is chosen on these
    (raw / maskaug masks carry a softmax that disagrees with them, which a pipeline mask never does)."""
    return sample.kind == "model" or sample.kind.startswith("nt_")


def train(samples: list[QualitySample], alpha: float = 0.2, seed: int = 0, balance: bool = False,
          rule_ok: np.ndarray | None = None, **target: float) -> tuple[QualityModel, np.ndarray]:
    """The final model on every sample; its threshold from out-of-fold predictions on the
    :func:`deliverable` masks that pass the image rules (``rule_ok``, all when None)."""
    oof = out_of_fold(samples, alpha, seed=seed, balance=balance)
    dice = np.array([s.dice for s in samples])
    sel = np.array([deliverable(s) for s in samples])
    if rule_ok is not None:
        sel &= rule_ok
    threshold = choose_threshold(oof[sel], dice[sel], **target)
    est = _fit(np.stack([s.x() for s in samples]), dice, alpha, seed, balance)
    import sklearn

    meta = {"alpha": alpha, "balanced": balance, "n_samples": len(samples),
            "n_cases": len({s.case for s in samples}),
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


RULE_VARIANTS: dict[str, bool] = {"rules+regressor": True, "rules-fat_continuity+regressor": False}
"""Rule sets the regressor can be combined with through config.yaml (``fat_continuity_check``)."""


def rule_mask(samples: list[QualitySample], cfg: object, fat_continuity: bool) -> np.ndarray:
    """Which samples pass the image/basic rules under ``cfg`` (with or without fat_continuity)."""
    c = cfg.model_copy(update={"fat_continuity_check": fat_continuity})  # type: ignore[attr-defined]
    return np.array([not rule_failures(s.measurements, c) for s in samples])


def gate_numbers(samples: list[QualitySample], passed: np.ndarray,
                 which: Callable[[QualitySample], bool]) -> dict[str, float | int | None]:
    """Review share and the passed masks' Dice among the samples ``which`` selects."""
    idx = [i for i, s in enumerate(samples) if which(s)]
    d = np.array([samples[i].dice for i in idx if passed[i]])
    return {"n": len(idx), "passed": len(d),
            "review_share": round(1 - len(d) / max(len(idx), 1), 4),
            "passed_ge_0_7_share": round(float(np.mean(d >= 0.7)), 4) if len(d) else None,
            "passed_below_0_5": int(np.sum(d < 0.5)),
            "min_passed_dice": round(float(d.min()), 4) if len(d) else None,
            "good_ge_0_7": int(sum(samples[i].dice >= 0.7 for i in idx)),
            "good_ge_0_7_passed": int(np.sum(d >= 0.7))}


def gate_report(samples: list[QualitySample], passed: np.ndarray) -> dict[str, dict[str, float | int | None]]:
    """:func:`gate_numbers` of the pipeline's own masks and of every deliverable mask: the two
    views each report of a gate (train, select, score) gives."""
    return {"model_masks": gate_numbers(samples, passed, lambda s: s.kind == "model"),
            "deliverable_masks": gate_numbers(samples, passed, deliverable)}


def score_samples(samples: list[QualitySample], model: QualityModel, cfg: object) -> dict[str, object]:
    """A saved regressor, as it is, on samples it may never have seen: its own threshold and the
    rule set ``cfg`` runs. When the segmentation model changes, this is the incumbent's side of the
    comparison with a retrained candidate (whose numbers are out-of-fold), on the same masks."""
    pred = model.predict([s.x() for s in samples])
    dice = np.array([s.dice for s in samples])
    fat_continuity = bool(getattr(cfg, "fat_continuity_check", True))
    passed = rule_mask(samples, cfg, fat_continuity) & (pred >= model.threshold)
    return {"threshold": model.threshold, "fat_continuity_check": fat_continuity,
            "mae": round(float(np.mean(np.abs(pred - dice))), 4) if len(dice) else None,
            **gate_report(samples, passed)}


def select_configuration(samples: list[QualitySample], cfg: object,
                         alphas: tuple[float, ...] = (0.2, 0.5),
                         balances: tuple[bool, ...] = (False, True)) -> dict[str, object]:
    """Grid over quantile, Dice-bin balancing and the rule set, all out-of-fold on the
    development set: each candidate's threshold is the lowest meeting the targets on the
    deliverable masks it would judge; the winner routes the fewest pipeline masks to review
    (ties: the stricter rule set, then the lower quantile)."""
    rows = []
    for alpha in alphas:
        for balance in balances:
            oof = out_of_fold(samples, alpha, balance=balance)
            for name, fc in RULE_VARIANTS.items():
                ok = rule_mask(samples, cfg, fc)
                dice = np.array([s.dice for s in samples])
                sel = np.array([deliverable(s) for s in samples]) & ok
                t = choose_threshold(oof[sel], dice[sel])
                passed = ok & (oof >= t)
                rows.append({"alpha": alpha, "balanced": balance, "rules": name,
                             "fat_continuity": fc, "threshold": t,
                             **gate_report(samples, passed)})
    best = min(rows, key=lambda r: (r["model_masks"]["review_share"], not r["fat_continuity"],  # type: ignore[index]
                                    r["alpha"]))
    return {"candidates": rows, "chosen": best}
