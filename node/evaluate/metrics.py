"""Point metrics of a binary classifier and of rater agreement.

Why our own code: the bootstrap and cross-validation need the same metric on thousands of
resamples at once, so every function here accepts a batch axis (rows = resamples) and runs
vectorised over numpy. The single-sample results equal scikit-learn's (tests check
``roc_auc_score`` and ``cohen_kappa_score`` to 1e-12).

AUC is the Mann-Whitney statistic with mid-ranks for ties (Hanley & McNeil 1982), i.e. the
empirical ROC area. Balanced classification accuracy (BCA) is the mean of sensitivity and
specificity, as WORC and Spaanderman et al. 2024 report it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.stats import rankdata

__all__ = ["BinaryMetrics", "KappaWeights", "auc", "binary_metrics", "check_binary", "cohen_kappa",
           "threshold_metrics"]


def check_binary(y: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
    """``y`` as an int array of 0/1 with both classes present (raises ValueError otherwise)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1 (1 = ALT, the positive class)")
    if y.min() == y.max():
        raise ValueError("labels need both classes (ALT and lipoma) to compute an AUC")
    if scores is not None:
        s = np.asarray(scores, dtype=float)
        if s.shape[-1] != y.shape[0]:
            raise ValueError(f"scores shape {s.shape} does not match {y.shape[0]} labels")
        if not np.isfinite(s).all():
            raise ValueError("scores contain NaN or infinity")
    return y.astype(int)


def auc(y: np.ndarray, scores: np.ndarray) -> np.ndarray | float:
    """Empirical ROC AUC; ``scores`` may be (n,) or (B, n) with ``y`` (n,) or (B, n)."""
    s = np.asarray(scores, dtype=float)
    yy = np.broadcast_to(np.asarray(y, dtype=bool), s.shape)
    ranks = rankdata(s, axis=-1)  # average ranks = mid-ranks for ties
    n1 = yy.sum(axis=-1)
    n0 = yy.shape[-1] - n1
    r1 = np.where(yy, ranks, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (r1 - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return float(out) if np.ndim(out) == 0 else out


def threshold_metrics(y: np.ndarray, decisions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sensitivity and specificity of 0/1 ``decisions`` (batched over leading axes)."""
    d = np.asarray(decisions, dtype=bool)
    yy = np.broadcast_to(np.asarray(y, dtype=bool), d.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = (d & yy).sum(axis=-1) / yy.sum(axis=-1)
        spec = (~d & ~yy).sum(axis=-1) / (~yy).sum(axis=-1)
    return sens, spec


@dataclass(frozen=True)
class BinaryMetrics:
    """The four numbers of Table 2 (Spaanderman et al. 2024) for one model on one cohort."""

    auc: float
    bca: float
    sensitivity: float
    specificity: float
    n: int
    n_positive: int


def binary_metrics(y: np.ndarray, scores: np.ndarray, decisions: np.ndarray) -> BinaryMetrics:
    """AUC of ``scores`` plus BCA/sensitivity/specificity of ``decisions``."""
    y = check_binary(y, scores)
    sens, spec = threshold_metrics(y, decisions)
    return BinaryMetrics(auc=float(auc(y, scores)), bca=float((sens + spec) / 2),
                         sensitivity=float(sens), specificity=float(spec),
                         n=int(y.size), n_positive=int(y.sum()))


class KappaWeights(StrEnum):
    """Disagreement weights of Cohen's kappa (Cohen 1960; weighted: Cohen 1968)."""

    NONE = "none"
    LINEAR = "linear"
    QUADRATIC = "quadratic"


def cohen_kappa(a: np.ndarray, b: np.ndarray,
                weights: KappaWeights | str = KappaWeights.NONE) -> float:
    """Cohen's kappa between two raters' categorical (ordinal for weighted) ratings.

    kappa = 1 - sum(w * O) / sum(w * E), O the observed and E the chance-expected
    (outer product of the marginals) confusion matrix, w the disagreement weights
    (0/1, |i-j|, (i-j)^2 over the sorted union of categories).
    """
    weights = KappaWeights(weights)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"two equally long non-empty rating vectors needed, got {a.shape}, {b.shape}")
    cats = np.unique(np.concatenate([a, b]))
    ia, ib = np.searchsorted(cats, a), np.searchsorted(cats, b)
    k = cats.size
    observed = np.zeros((k, k))
    np.add.at(observed, (ia, ib), 1.0)
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    i, j = np.indices((k, k))
    if weights is KappaWeights.NONE:
        w = (i != j).astype(float)
    elif weights is KappaWeights.LINEAR:
        w = np.abs(i - j).astype(float)
    else:
        w = ((i - j) ** 2).astype(float)
    denom = (w * expected).sum()
    if denom == 0:
        raise ValueError("kappa undefined: both raters used one and the same single category")
    return float(1.0 - (w * observed).sum() / denom)
