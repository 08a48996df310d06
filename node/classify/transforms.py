"""Pipeline steps of the WORC search space that scikit-learn lacks.

- :class:`GroupSelector`: keep only the columns of the enabled feature groups (WORC's
  groupwise selection switches whole groups such as shape, GLCM, LoG on or off).
- :class:`RobustZScore`: WORC's ``robust_z_score``: centre on the median and divide by the
  spread of the 5th–95th percentile range, so outliers do not set the scale.
- :class:`MannWhitneySelector`: univariate Mann–Whitney U test, keep features with p below a
  threshold (at least one is always kept).
- :class:`ReliefSelector`: RELIEF (Kira & Rendell 1992) — feature weights from nearest hit /
  nearest miss distances; keep the top fraction.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted


class GroupSelector(TransformerMixin, BaseEstimator):
    """Select the columns whose group (``groups[i]``) is in ``enabled``."""

    def __init__(self, groups: tuple[str, ...] = (), enabled: tuple[str, ...] = ()) -> None:
        self.groups = groups
        self.enabled = enabled

    def fit(self, X, y=None):
        cols = np.array([g in self.enabled for g in self.groups], dtype=bool)
        if cols.size != np.asarray(X).shape[1]:
            raise ValueError(f"{cols.size} group labels for {np.asarray(X).shape[1]} columns")
        if not cols.any():
            cols[:] = True
        self.columns_ = cols
        return self

    def transform(self, X):
        check_is_fitted(self, "columns_")
        return np.asarray(X)[:, self.columns_]


class RobustZScore(TransformerMixin, BaseEstimator):
    """(x − median) / (p95 − p5), per feature; constant features get scale 1."""

    def __init__(self, low: float = 5.0, high: float = 95.0) -> None:
        self.low = low
        self.high = high

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        lo, med, hi = np.percentile(X, [self.low, 50.0, self.high], axis=0)
        scale = hi - lo
        scale[~np.isfinite(scale) | (scale <= 0)] = 1.0
        self.center_, self.scale_ = med, scale
        return self

    def transform(self, X):
        check_is_fitted(self, "scale_")
        return (np.asarray(X, dtype=np.float64) - self.center_) / self.scale_


class MannWhitneySelector(TransformerMixin, BaseEstimator):
    """Keep features whose two-sided Mann–Whitney U p-value is below ``threshold``."""

    def __init__(self, threshold: float = 0.05) -> None:
        self.threshold = threshold

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        a, b = X[y == 1], X[y == 0]
        with np.errstate(all="ignore"):
            p = mannwhitneyu(a, b, axis=0, alternative="two-sided").pvalue
        p = np.where(np.isfinite(p), p, 1.0)
        keep = p < self.threshold
        if not keep.any():
            keep[np.argmin(p)] = True
        self.support_ = keep
        return self

    def transform(self, X):
        check_is_fitted(self, "support_")
        return np.asarray(X)[:, self.support_]


class ReliefSelector(TransformerMixin, BaseEstimator):
    """Basic RELIEF on all samples (L1 distance on scaled data); keep the top ``fraction``."""

    def __init__(self, fraction: float = 0.2) -> None:
        self.fraction = fraction

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        span = X.max(axis=0) - X.min(axis=0)
        span[span <= 0] = 1.0
        Xn = X / span
        dist = np.abs(Xn[:, None, :] - Xn[None, :, :]).sum(axis=2)
        np.fill_diagonal(dist, np.inf)
        same = y[:, None] == y[None, :]
        hit = np.where(same, dist, np.inf).argmin(axis=1)
        miss = np.where(~same, dist, np.inf).argmin(axis=1)
        w = (np.abs(Xn - Xn[miss]) - np.abs(Xn - Xn[hit])).mean(axis=0)
        k = max(1, round(self.fraction * X.shape[1]))
        keep = np.zeros(X.shape[1], dtype=bool)
        keep[np.argsort(-w, kind="stable")[:k]] = True
        self.weights_, self.support_ = w, keep
        return self

    def transform(self, X):
        check_is_fitted(self, "support_")
        return np.asarray(X)[:, self.support_]
