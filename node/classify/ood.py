"""Out-of-distribution score for a new case: is it like the training cohort at all?

An isolation forest (Liu et al. 2008) on the training features after median imputation and
robust z-scoring (5–95th percentile). The score is sklearn's anomaly score negated so that
higher means more unusual (about 0.5 for typical cases); the flag threshold is the
``quantile`` of the training cases' own scores, so by construction about 1 − quantile of
training-like cases are flagged.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from node.classify.transforms import RobustZScore


class OodDetector:
    def __init__(self, quantile: float = 0.99, seed: int = 0) -> None:
        if not 0.5 <= quantile < 1.0:
            raise ValueError(f"quantile {quantile} outside [0.5, 1)")
        self.quantile = quantile
        self.seed = seed

    def fit(self, X: np.ndarray) -> OodDetector:
        self.prep_ = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                                   RobustZScore())
        Z = np.clip(self.prep_.fit_transform(np.asarray(X, dtype=np.float64)), -50, 50)
        self.forest_ = IsolationForest(n_estimators=200, random_state=self.seed).fit(Z)
        self.threshold_ = float(np.quantile(self.score(X), self.quantile))
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly score per row (higher = further from the training cohort)."""
        Z = np.clip(self.prep_.transform(np.asarray(X, dtype=np.float64)), -50, 50)
        return -self.forest_.score_samples(Z)

    def flag(self, X: np.ndarray) -> np.ndarray:
        return self.score(X) > self.threshold_
