"""DeLong's test for two correlated (paired) ROC AUCs.

DeLong, DeLong & Clarke-Pearson, Biometrics 44:837-845 (1988): the AUC is a two-sample
U-statistic; its structural components (placement values) give the covariance matrix of
several AUCs measured on the same cases. We use the fast mid-rank formulation of Sun & Xu,
IEEE Signal Process. Lett. 21:1389-1393 (2014), O(n log n) per model:

    V10_i = (R_i - R^+_i) / n0        for each positive i   (R: rank among all cases,
    V01_j = 1 - (R_j - R^-_j) / n1    for each negative j    R^+/R^-: rank within its class)
    S = S10 / n1 + S01 / n0           (S10, S01: sample covariances over models)

Spaanderman et al. 2024 compare each model / reader with the radiomics model this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

from node.evaluate.metrics import check_binary

__all__ = ["DelongResult", "delong_covariance", "delong_test"]


def delong_covariance(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (k,) and their DeLong covariance matrix (k, k) for ``scores`` of shape (k, n)."""
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    y = check_binary(y, s).astype(bool)
    pos, neg = s[:, y], s[:, ~y]
    n1, n0 = pos.shape[1], neg.shape[1]
    r_all = rankdata(s, axis=1)
    r_pos = rankdata(pos, axis=1)
    r_neg = rankdata(neg, axis=1)
    v10 = (r_all[:, y] - r_pos) / n0
    v01 = 1.0 - (r_all[:, ~y] - r_neg) / n1
    aucs = v10.mean(axis=1)
    s10 = np.atleast_2d(np.cov(v10)) if n1 > 1 else np.zeros((s.shape[0],) * 2)
    s01 = np.atleast_2d(np.cov(v01)) if n0 > 1 else np.zeros((s.shape[0],) * 2)
    return aucs, s10 / n1 + s01 / n0


@dataclass(frozen=True)
class DelongResult:
    """Two-sided DeLong test of H0: AUC_a == AUC_b on paired predictions."""

    auc_a: float
    auc_b: float
    z: float
    p_value: float
    var_diff: float


def delong_test(y: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> DelongResult:
    """Compare two models scored on the same cases (z = (AUC_a - AUC_b) / sd of difference)."""
    aucs, cov = delong_covariance(y, np.vstack([scores_a, scores_b]))
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    diff = float(aucs[0] - aucs[1])
    # var 0: identical rankings, no evidence of a difference (pROC reports Z = 0 then)
    z = diff / np.sqrt(var) if var > 0.0 else (0.0 if diff == 0.0 else np.sign(diff) * np.inf)
    return DelongResult(float(aucs[0]), float(aucs[1]), float(z), float(2.0 * norm.sf(abs(z))),
                        var)
