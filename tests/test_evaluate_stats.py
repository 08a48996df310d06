"""Each statistic of node.evaluate against an independent reference value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from node.evaluate.delong import delong_covariance, delong_test
from node.evaluate.metrics import KappaWeights, auc, binary_metrics, cohen_kappa
from node.evaluate.resampling import bootstrap_metrics, corrected_t_interval, cv_metrics, random_splits

# pROC's aSAH data set (Turck et al., Intensive Care Med 36:107-115, 2010; 113 patients,
# outcome "Poor" = 1, 41 positives), typed in: s100b, wfns (ordinal 1-5), ndka.
ASAH_Y = [
    0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0,
    0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0,
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0]
ASAH_S100B = [
    0.13, 0.14, 0.1, 0.04, 0.13, 0.1, 0.47, 0.16, 0.18, 0.1, 0.12, 0.1, 0.44, 0.71,
    0.04, 0.08, 0.49, 0.04, 0.07, 0.33, 0.09, 0.09, 0.07, 0.11, 0.07, 0.17, 0.07, 0.11,
    0.13, 0.19, 0.05, 0.16, 0.41, 0.14, 0.34, 0.35, 0.48, 0.09, 0.96, 0.25, 0.5, 0.46,
    0.16, 0.07, 0.43, 0.45, 0.11, 0.08, 0.09, 0.86, 0.52, 0.08, 0.06, 0.13, 2.07, 0.1,
    0.14, 0.15, 0.07, 0.06, 0.77, 0.05, 0.09, 0.3, 0.03, 0.09, 0.04, 0.23, 0.7, 0.09,
    0.27, 0.71, 0.08, 0.26, 0.08, 0.16, 0.09, 0.13, 0.1, 0.08, 0.11, 0.33, 0.11, 0.28,
    0.07, 0.1, 0.32, 0.22, 0.07, 0.05, 0.24, 0.38, 0.1, 0.15, 0.08, 0.14, 0.1, 0.07,
    0.04, 0.19, 0.56, 0.14, 0.58, 0.32, 0.82, 0.74, 0.15, 0.47, 0.17, 0.44, 0.15, 0.5, 0.48]
ASAH_WFNS = [
    1, 1, 1, 1, 3, 2, 5, 4, 1, 2, 5, 2, 5, 5, 1, 2, 5, 2, 2, 5, 2, 1, 1, 1, 1, 2, 1, 2,
    1, 1, 3, 4, 2, 1, 4, 5, 4, 1, 4, 2, 5, 5, 1, 1, 2, 4, 1, 1, 2, 5, 5, 2, 1, 2, 5, 1,
    2, 2, 2, 1, 5, 1, 1, 2, 5, 2, 1, 4, 5, 2, 4, 4, 1, 4, 1, 2, 1, 4, 2, 1, 2, 3, 2, 4,
    2, 1, 4, 5, 1, 1, 5, 4, 2, 2, 1, 1, 1, 3, 1, 2, 5, 2, 2, 5, 5, 5, 2, 4, 4, 5, 1, 1, 1]
ASAH_NDKA = [
    3.01, 8.54, 8.09, 10.42, 17.4, 12.75, 6.0, 13.2, 15.54, 6.01, 15.96, 17.86, 5.18,
    8.9, 13.41, 20.75, 11.6, 16.11, 32.37, 54.82, 32.41, 49.94, 40.34, 9.47, 6.29,
    12.53, 6.54, 6.3, 80.3, 12.8, 9.8, 9.81, 9.85, 18.21, 5.03, 14.04, 21.93, 8.02,
    7.42, 8.38, 6.59, 9.63, 13.12, 7.96, 14.34, 41.43, 7.63, 7.06, 12.59, 13.56, 3.87,
    9.44, 7.66, 12.98, 419.19, 27.19, 22.27, 9.95, 21.22, 11.73, 10.4, 58.83, 6.39,
    11.09, 12.22, 13.67, 17.21, 22.63, 12.9, 9.7, 21.57, 8.23, 72.57, 15.54, 10.51,
    10.6, 14.57, 5.19, 9.63, 4.61, 21.48, 17.3, 12.71, 9.44, 11.07, 19.46, 10.83, 5.37,
    11.97, 7.75, 9.83, 10.55, 28.49, 8.53, 12.57, 12.9, 46.83, 11.68, 12.67, 9.01, 9.57,
    34.06, 11.72, 14.26, 47.61, 11.67, 24.58, 10.33, 13.87, 15.89, 22.43, 6.79, 13.45]


def _scores(n: int = 120, seed: int = 1, shift: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    y[:2] = (0, 1)
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + shift * y)))
    return y, np.round(s, 2)  # rounding makes ties


def test_auc_equals_sklearn_including_ties_and_batches():
    for seed in range(5):
        y, s = _scores(seed=seed)
        assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    y, s = _scores()
    rng = np.random.default_rng(0)
    idx = rng.integers(0, y.size, (20, y.size))
    batch = auc(y[idx], s[idx])
    for row, value in zip(idx, batch, strict=True):
        ref = roc_auc_score(y[row], s[row]) if y[row].min() != y[row].max() else np.nan
        assert value == pytest.approx(ref, abs=1e-12, nan_ok=True)


def test_binary_metrics_match_confusion_matrix():
    y, s = _scores()
    m = binary_metrics(y, s, s >= 0.5)
    tp = int(((s >= 0.5) & (y == 1)).sum())
    tn = int(((s < 0.5) & (y == 0)).sum())
    assert m.sensitivity == pytest.approx(tp / y.sum(), abs=1e-12)
    assert m.specificity == pytest.approx(tn / (y == 0).sum(), abs=1e-12)
    assert m.bca == pytest.approx((m.sensitivity + m.specificity) / 2, abs=1e-12)


def test_delong_reproduces_proc_documentation_on_asah():
    """pROC ``roc.test(roc(aSAH$outcome, aSAH$s100b), roc(aSAH$outcome, aSAH$wfns))`` prints
    "Z = -2.209, p-value = 0.02718", AUCs 0.7314 and 0.8237; s100b vs ndka (AUC 0.6120)
    gives "Z = 1.3908, p-value = 0.1643" (pROC 1.19, DeLong paired)."""
    y = np.array(ASAH_Y)
    assert (y.size, int(y.sum())) == (113, 41)
    wfns = delong_test(y, np.array(ASAH_S100B), np.array(ASAH_WFNS, dtype=float))
    assert (round(wfns.auc_a, 4), round(wfns.auc_b, 4)) == (0.7314, 0.8237)
    assert round(wfns.z, 3) == -2.209 and round(wfns.p_value, 5) == 0.02718
    ndka = delong_test(y, np.array(ASAH_S100B), np.array(ASAH_NDKA))
    assert round(ndka.auc_b, 4) == 0.6120
    assert round(ndka.z, 4) == 1.3908 and round(ndka.p_value, 4) == 0.1643


def _brute_force_delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong 1988 eq. by the O(m n) kernel psi(x, y) = 1, 1/2, 0 (independent of ranks)."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    return psi.mean(axis=(1, 2)), np.cov(v10) / pos.shape[1] + np.cov(v01) / neg.shape[1]


def test_fast_delong_equals_the_structural_component_definition():
    y, a = _scores(seed=3)
    _, b = _scores(seed=4)
    s = np.vstack([a, b, np.round(a + b, 1)])
    aucs, cov = delong_covariance(y, s)
    ref_aucs, ref_cov = _brute_force_delong(y, s)
    np.testing.assert_allclose(aucs, ref_aucs, atol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, atol=1e-12)


def test_delong_of_identical_models_is_not_significant():
    y, s = _scores()
    r = delong_test(y, s, s.copy())
    assert r.z == 0.0 and r.p_value == 1.0


@pytest.mark.parametrize("weights", ["none", "linear", "quadratic"])
def test_kappa_equals_sklearn(weights):
    rng = np.random.default_rng(7)
    a = rng.integers(1, 11, 200)  # a ten-point certainty scale as the paper's readers used
    b = np.clip(a + rng.integers(-2, 3, 200), 1, 10)
    ref = cohen_kappa_score(a, b, weights=None if weights == "none" else weights)
    assert cohen_kappa(a, b, KappaWeights(weights)) == pytest.approx(ref, abs=1e-12)


def test_kappa_of_binary_calls_equals_sklearn_and_perfect_agreement_is_one():
    a = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1])
    b = np.array([1, 0, 0, 1, 0, 1, 1, 0, 1, 1])
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert cohen_kappa(a, a) == 1.0


def test_corrected_t_interval_matches_hand_computation():
    values = [0.80, 0.85, 0.78, 0.90, 0.82]
    # by hand: mean 0.83; S^2 = sum of squared deviations / 4
    #   deviations -0.03, 0.02, -0.05, 0.07, -0.01 -> squares sum 0.0088 -> S^2 = 0.0022
    #   corrected variance (1/5 + 20/80) * 0.0022 = 0.45 * 0.0022 = 0.00099
    #   sd = 0.0314642654451 ; t(0.975, 4 dof) = 2.7764451051977987
    #   half width = 0.0873586 -> [0.7426414, 0.9173586]
    est = corrected_t_interval(np.array(values), n_train=80, n_test=20)
    half = 2.7764451051977987 * math.sqrt(0.45 * 0.0022)
    assert est.value == pytest.approx(0.83, abs=1e-12)
    assert est.low == pytest.approx(0.83 - half, abs=1e-9)
    assert est.high == pytest.approx(0.83 + half, abs=1e-9)
    assert est.high - est.low == pytest.approx(2 * 0.0873586, abs=1e-6)


def test_corrected_interval_is_wider_than_naive():
    v = np.random.default_rng(0).normal(0.8, 0.05, 100)
    est = corrected_t_interval(v, 80, 20)
    naive = 1.984 * v.std(ddof=1) / 10
    assert (est.high - est.low) / 2 > 2 * naive


def test_cv_metrics_over_random_splits():
    y, s = _scores(n=150)
    splits = random_splits(y, 100, 0.2, seed=0)
    assert len(splits) == 100 and all(len(te) == 30 for _, te in splits)
    test_idx = np.concatenate([te for _, te in splits])
    split_id = np.repeat(np.arange(100), 30)
    m = cv_metrics(y[test_idx], s[test_idx], s[test_idx] >= 0.5, split_id,
                   patients=test_idx)
    per_split = [roc_auc_score(y[te], s[te]) for _, te in splits]
    assert m.auc.value == pytest.approx(np.mean(per_split), abs=1e-12)
    ref = corrected_t_interval(np.array(per_split), 120, 30, bounds=(0.0, 1.0))
    assert (m.auc.low, m.auc.high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert m.resamples == 100 and m.n == 150


def test_bootstrap_ci_contains_point_and_is_reproducible():
    y, s = _scores(n=150)
    a = bootstrap_metrics(y, s, s >= 0.5, n_boot=10_000, seed=42)
    b = bootstrap_metrics(y, s, s >= 0.5, n_boot=10_000, seed=42)
    c = bootstrap_metrics(y, s, s >= 0.5, n_boot=10_000, seed=43)
    assert a == b and a != c
    for e in (a.auc, a.bca, a.sensitivity, a.specificity):
        assert e.low <= e.value <= e.high
    assert a.auc.value == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_bootstrap_ci_shrinks_with_n():
    widths = []
    for n in (60, 240, 960):
        y, s = _scores(n=n, seed=5)
        m = bootstrap_metrics(y, s, s >= 0.5, n_boot=2000, seed=0)
        widths.append(m.auc.high - m.auc.low)
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] == pytest.approx(4, rel=0.35)  # ~ 1/sqrt(n)


def test_bootstrap_percentiles_match_a_loop_over_sklearn():
    y, s = _scores(n=80)
    m = bootstrap_metrics(y, s, s >= 0.5, n_boot=300, seed=9)
    rng = np.random.default_rng(9)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    idx = np.concatenate([rng.choice(pos, (300, pos.size)), rng.choice(neg, (300, neg.size))], 1)
    ref = [roc_auc_score(y[r], s[r]) for r in idx]
    assert (m.auc.low, m.auc.high) == pytest.approx(tuple(np.percentile(ref, [2.5, 97.5])),
                                                    abs=1e-12)


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="both classes"):
        bootstrap_metrics(np.array([1, 1, 1]), np.array([0.1, 0.2, 0.3]), np.array([1, 1, 1]))
    with pytest.raises(ValueError, match="0/1"):
        delong_test(np.array([0, 2, 1]), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        delong_test(np.array([0, 1, 1]), np.array([0.1, np.nan, 0.3]), np.zeros(3))
    with pytest.raises(ValueError, match="at least 2"):
        corrected_t_interval(np.array([0.8]), 80, 20)
