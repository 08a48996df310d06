"""The shipped QC quality regressor (node/models/demo/quality) as a QC gate on fixed masks over
the limb phantom: a correct mask passes, a mask leaked into the subcutaneous fat is flagged with
``predicted_quality``. Nothing is trained here (the model is loaded as shipped)."""

from __future__ import annotations

import numpy as np
import pytest
from qc_phantom import SHAPE, SPACING_ZYX, phantom

from node.qc.checks import QcCode, QcResult, run_qc
from node.qc.config import QcConfig
from node.qc.quality import DEMO_QUALITY_DIR, FEATURES, feature_vector, load_quality_model
from node.segment.geometry import Geometry, Mask

GRID = Geometry((0.0, 0.0, 0.0), (SPACING_ZYX[2], SPACING_ZYX[1], SPACING_ZYX[0]),
                (1, 0, 0, 0, 1, 0, 0, 0, 1), SHAPE)
P = phantom()


def _prob_around(truth: np.ndarray) -> np.ndarray:
    """A model that found the tumour: high inside the true tumour, low elsewhere."""
    return np.where(truth, 0.97, 0.02).astype(np.float32)


def _qc(array: np.ndarray) -> QcResult:
    from node.qc.interactive_check import reseg_from_extremes

    a = array.astype(np.uint8)
    mask = Mask(array=a, geometry=GRID, model_id="fixed", probabilities=_prob_around(P.tumour),
                agreement=0.99)
    inter = reseg_from_extremes(P.image, a, SPACING_ZYX)
    return run_qc(mask, None, False, QcConfig(quality_check=True), image=P.image, interactive=inter)


def _leak() -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    angle = np.degrees(np.arctan2(y - 64, x - 64))
    r = np.hypot(y - 64, x - 64)
    bridge = (r >= 40) & (r < 43) & (np.abs(angle - 90) < 15)
    return P.tumour | ((P.subcut_fat | bridge) & (np.abs(angle - 90) < 70) & (np.abs(z - 8) < 5))


def test_shipped_model_loads_with_its_threshold() -> None:
    model = load_quality_model()
    assert model is not None, f"no regressor in {DEMO_QUALITY_DIR}"
    assert 0.5 <= model.threshold <= 1.0
    assert model.meta["features"] == list(FEATURES)
    assert np.isfinite(model.predict(np.full(len(FEATURES), np.nan))).all()  # a skipped check is NaN


def test_correct_mask_is_predicted_good_and_passes_with_a_margin() -> None:
    """Not a knife-edge pass: the correct mask's estimate clears the shipped threshold by ≥ 0.05
    (0.836 vs 0.745 for v2 trained on the extended development set)."""
    r = _qc(P.tumour)
    q = r.measurements["predicted_quality"]
    assert q is not None
    assert QcCode.PREDICTED_QUALITY not in {x.code for x in r.reasons}, r.measurements
    assert q >= load_quality_model().threshold + 0.05, r.measurements  # type: ignore[union-attr]


def test_leaked_mask_is_flagged_by_the_regressor() -> None:
    good, leak = _qc(P.tumour), _qc(_leak())
    assert QcCode.PREDICTED_QUALITY in {x.code for x in leak.reasons}, leak.measurements
    assert leak.measurements["predicted_quality"] < good.measurements["predicted_quality"]


def test_feature_vector_keeps_the_order_and_marks_missing_values() -> None:
    x = feature_vector({"fat_continuity": 0.1}, {"log_volume_ml": 1.0})
    assert x.shape == (len(FEATURES),)
    assert x[FEATURES.index("fat_continuity")] == pytest.approx(0.1)
    assert x[FEATURES.index("log_volume_ml")] == pytest.approx(1.0)
    assert np.isnan(x[FEATURES.index("solidity")])


def test_near_truth_masks_and_their_synthetic_softmax() -> None:
    """The development set's 'almost right' masks: an end-slice loss removes exactly the tumour's
    first/last slices, and the synthetic softmax's 0.5 mask is the mask it was made for."""
    from node.qc.quality_train import _near_truth, drop_end_slices, synthetic_probability

    t = P.tumour
    zs = np.flatnonzero(t.any(axis=(1, 2)))
    cut = drop_end_slices(t, 1, 1)
    assert not cut[zs[0]].any() and not cut[zs[-1]].any()
    assert (cut[zs[1]:zs[-1]] == t[zs[1]:zs[-1]]).all()
    for name, fn in _near_truth().items():
        m = fn(P.image, t).astype(bool)
        assert m.any(), name
        p = synthetic_probability(m)
        assert ((p > 0.5) == m).all(), name
        assert p[m].mean() > 0.85, name


def test_threshold_is_the_lowest_meeting_the_targets() -> None:
    from node.qc.quality_train import balance_weights, choose_threshold

    pred = np.array([0.9, 0.8, 0.75, 0.7, 0.6, 0.5])
    dice = np.array([0.9, 0.85, 0.8, 0.45, 0.9, 0.3])
    # 0.7 would pass a 0.45 mask: the lowest safe threshold is 0.705, + margin 0.02
    assert choose_threshold(pred, dice, margin=0.02) == pytest.approx(0.725)
    w = balance_weights(np.array([0.05, 0.95, 0.96, 0.97]))
    assert w[0] == pytest.approx(3 * w[1]) and w.mean() == pytest.approx(1.0)


def test_switched_on_without_a_model_routes_to_review(tmp_path) -> None:
    """config.yaml turns fat_continuity off in the regressor's favour: a missing model file must
    not silently leave the weaker gate in place."""
    a = P.tumour.astype(np.uint8)
    mask = Mask(array=a, geometry=GRID, model_id="fixed", probabilities=_prob_around(P.tumour),
                agreement=0.99)
    cfg = QcConfig(quality_check=True, quality_model_dir=tmp_path / "absent")
    r = run_qc(mask, None, False, cfg, image=P.image)
    assert QcCode.PREDICTED_QUALITY in {x.code for x in r.reasons}
    assert r.status != "pass"


def test_score_applies_a_saved_regressor_with_its_threshold_and_the_rules() -> None:
    """`qc-quality score`: the incumbent regressor judged on new masks as the pipeline would run
    it — its own threshold, the configured rules — so a retrain is compared on the same masks."""
    from node.qc.quality import QualityModel
    from node.qc.quality_train import QualitySample, score_samples, train

    rng = np.random.default_rng(0)
    samples = []
    for i in range(120):
        d = float(rng.uniform(0.2, 0.98))
        m: dict[str, float | None] = {k: float(rng.uniform(0, 0.1)) for k in FEATURES}
        m.update(volume_ml=12.0, interactive_dice=d, border_fraction=0.0, large_components=1.0,
                 solidity=0.8, fat_share=0.9)
        samples.append(QualitySample(f"c{i % 20}", "model" if i < 20 else f"nt_{i}", round(d, 4), m, {}))
    empty = QualitySample("c0", "model", 0.0, {"volume_ml": 0.0, "interactive_dice": 0.99}, {})
    model, _ = train(samples, alpha=0.5)
    cfg = QcConfig(fat_continuity_check=False)
    r = score_samples([*samples, empty], model, cfg)
    pred = model.predict([s.x() for s in samples[:20]])
    assert r["threshold"] == model.threshold
    assert r["model_masks"]["n"] == 21 and r["deliverable_masks"]["n"] == 121
    assert r["model_masks"]["passed"] == int(np.sum(pred >= model.threshold)) > 0
    assert r["model_masks"]["min_passed_dice"] >= 0.5  # the regressor follows interactive_dice
    strict = score_samples(samples, QualityModel(model.estimator, 1.01, model.meta), cfg)
    assert strict["model_masks"]["passed"] == 0 and strict["model_masks"]["review_share"] == 1.0
