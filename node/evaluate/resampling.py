"""Confidence intervals as Spaanderman et al. 2024 / WORC compute them.

* Training cohort: 100x random stratified 80/20 split cross-validation; the 95 % CI of the
  mean metric uses the corrected resampled t-test of Nadeau & Bengio, Machine Learning
  52:239-281 (2003): sd = sqrt((1/n + n_test/n_train) * S^2), t with n - 1 degrees of
  freedom, because the n splits share training cases and the naive sd/sqrt(n) is too narrow.
* External / prospective cohorts: 10,000x bootstrap of the test-set predictions, stratified
  on the label (each resample keeps the cohort's ALT/lipoma counts, as WORC does), with
  percentile intervals (Efron & Tibshirani 1993, ch. 13).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t
from sklearn.model_selection import StratifiedShuffleSplit

from node.evaluate.metrics import auc, check_binary, threshold_metrics

__all__ = ["Estimate", "MetricSet", "bootstrap_metrics", "corrected_t_interval",
           "cv_metrics", "random_splits"]


@dataclass(frozen=True)
class Estimate:
    """A point value with its 95 % (or ``level``) confidence interval."""

    value: float
    low: float
    high: float
    level: float = 0.95

    def format(self, digits: int = 2) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass(frozen=True)
class MetricSet:
    """AUC, BCA, sensitivity and specificity with CIs: one cell block of Table 2."""

    auc: Estimate
    bca: Estimate
    sensitivity: Estimate
    specificity: Estimate
    n: int
    n_positive: int
    method: str  # "bootstrap" or "cv-corrected-t"
    resamples: int


def corrected_t_interval(values: np.ndarray, n_train: int, n_test: int, level: float = 0.95,
                         bounds: tuple[float, float] | None = None) -> Estimate:
    """Mean of per-split ``values`` with the Nadeau-Bengio corrected resampled t interval.

    ``bounds`` clips the interval to the metric's range (AUC, BCA, sens, spec: (0, 1)); the
    t interval itself is symmetric and can leave it for a mean near 1.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = v.size
    if n < 2:
        raise ValueError(f"the corrected t-test needs at least 2 splits, got {n}")
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive, got {n_train}, {n_test}")
    mean = float(v.mean())
    sd = float(np.sqrt((1.0 / n + n_test / n_train) * v.var(ddof=1)))
    half = float(student_t.ppf(0.5 + level / 2.0, df=n - 1)) * sd
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(mean, low, high, level)


def random_splits(y: np.ndarray, n_splits: int = 100, test_size: float = 0.2,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The paper's 100x random stratified train/test splits (indices), reproducible by seed."""
    y = check_binary(y)
    sss = StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size, random_state=seed)
    return list(sss.split(np.zeros(y.size), y))


def _percentile(samples: np.ndarray, point: float, level: float) -> Estimate:
    s = samples[np.isfinite(samples)]
    lo, hi = np.percentile(s, [50 * (1 - level), 50 * (1 + level)])
    return Estimate(float(point), float(lo), float(hi), level)


def bootstrap_metrics(y: np.ndarray, scores: np.ndarray, decisions: np.ndarray,
                      n_boot: int = 10_000, seed: int = 0, level: float = 0.95,
                      stratified: bool = True) -> MetricSet:
    """Point metrics on all cases, percentile CIs over ``n_boot`` resamples (vectorised).

    Stratified: positives and negatives are resampled separately with replacement, so no
    resample lacks a class and the AUC is always defined.
    """
    y = check_binary(y, scores)
    s = np.asarray(scores, dtype=float)
    d = np.asarray(decisions, dtype=bool)
    if d.shape != s.shape:
        raise ValueError(f"decisions shape {d.shape} != scores shape {s.shape}")
    rng = np.random.default_rng(seed)
    n_boot = int(n_boot)
    if stratified:
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        idx = np.concatenate([rng.choice(pos, (n_boot, pos.size)),
                              rng.choice(neg, (n_boot, neg.size))], axis=1)
    else:
        idx = rng.integers(0, y.size, (n_boot, y.size))
    yb, sb, db = y[idx], s[idx], d[idx]
    aucs = auc(yb, sb)
    sens, spec = threshold_metrics(yb, db)
    p_sens, p_spec = threshold_metrics(y, d)
    return MetricSet(
        auc=_percentile(np.asarray(aucs), float(auc(y, s)), level),
        bca=_percentile((sens + spec) / 2, float((p_sens + p_spec) / 2), level),
        sensitivity=_percentile(sens, float(p_sens), level),
        specificity=_percentile(spec, float(p_spec), level),
        n=int(y.size), n_positive=int(y.sum()), method="bootstrap", resamples=n_boot)


def cv_metrics(y: np.ndarray, scores: np.ndarray, decisions: np.ndarray, split: np.ndarray,
               patients: np.ndarray | None = None, n_train: int | None = None,
               level: float = 0.95) -> MetricSet:
    """Per-split metrics of pooled CV test predictions, summarised with the corrected t-test.

    ``split`` names the iteration each test prediction came from. ``n_train`` defaults to
    (distinct ``patients`` - mean test size), right for random splits of one cohort.
    """
    y = check_binary(y, scores)
    s = np.asarray(scores, dtype=float)
    d = np.asarray(decisions, dtype=bool)
    split = np.asarray(split)
    keys = np.unique(split)
    rows = []
    for k in keys:
        m = split == k
        if y[m].min() == y[m].max():
            raise ValueError(f"CV split {k!r} has test cases of one class only")
        se, sp = threshold_metrics(y[m], d[m])
        rows.append((auc(y[m], s[m]), (se + sp) / 2, se, sp, m.sum()))
    arr = np.asarray(rows, dtype=float)
    n_test = round(arr[:, 4].mean())
    if patients is not None:
        pid = np.asarray(patients)
        uniq, first = np.unique(pid, return_index=True)
        n_cases, n_pos = int(uniq.size), int(y[first].sum())
    else:
        n_cases, n_pos = -1, -1
    if n_train is None:
        if n_cases <= n_test:
            raise ValueError("give n_train, or the patients so it can be derived")
        n_train = n_cases - n_test
    est = [corrected_t_interval(arr[:, j], n_train, n_test, level, (0.0, 1.0)) for j in range(4)]
    return MetricSet(*est, n=n_cases if n_cases > 0 else n_train + n_test, n_positive=n_pos,
                     method="cv-corrected-t", resamples=len(keys))
