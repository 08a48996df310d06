"""The WORC-style search: reproducible, every classifier family buildable, and the top-K
ensemble beats a single default random forest."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit

from node.classify.ensemble import fit_ensemble
from node.classify.search import ClassifierKind, build_pipeline, sample_workflow
from node.classify.train import corrected_ci
from node.classify.transforms import MannWhitneySelector, ReliefSelector, RobustZScore


def _data(n: int = 100, p: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple]:
    # many weakly informative, correlated features with one cluster per class (a shift in
    # size/texture between lipoma and ALT): the regime of radiomics on ~100 patients
    X, y = make_classification(n, p, n_informative=p // 2, n_redundant=p // 6, class_sep=0.5,
                               n_clusters_per_class=1, flip_y=0.05, random_state=seed)
    X[::13, 2] = np.nan
    groups = tuple(f"g{i % 6}" for i in range(p))
    return X, y, groups


def test_same_seed_gives_same_ensemble_predictions() -> None:
    X, y, g = _data()
    a, ra = fit_ensemble(X, y, g, n_workflows=12, top_k=4, seed=3, n_splits=3, progress=False)
    b, rb = fit_ensemble(X, y, g, n_workflows=12, top_k=4, seed=3, n_splits=3, n_jobs=2,
                         progress=False)
    c, _ = fit_ensemble(X, y, g, n_workflows=12, top_k=4, seed=4, n_splits=3, progress=False)
    assert [s.spec for s in ra] == [s.spec for s in rb]
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))


@pytest.mark.parametrize("kind", list(ClassifierKind))
def test_every_classifier_family_fits_and_gives_posteriors(kind: ClassifierKind) -> None:
    X, y, g = _data(80, 30)
    for seed in range(3):  # a few hyper-parameter draws per family
        spec = sample_workflow(seed, tuple(dict.fromkeys(g)), (kind,))
        assert spec.classifier.kind == kind.value
        if kind in (ClassifierKind.ADABOOST, ClassifierKind.XGBOOST):
            assert 0.01 <= spec.classifier.learning_rate <= 1.0  # not WORC's 10^U(0.01,1)
        p = build_pipeline(spec, g).fit(X, y).predict_proba(X)[:, 1]
        assert p.shape == (80,) and np.all((p >= 0) & (p <= 1))


def test_robust_zscore_uses_5_95_percentile_spread() -> None:
    x = np.arange(101, dtype=float)[:, None]
    x[-1] = 1e6  # an outlier must not set the scale
    z = RobustZScore().fit(x)
    assert z.center_[0] == 50.0
    assert z.scale_[0] == pytest.approx(90.0, rel=0.01)


def test_univariate_and_relief_keep_the_informative_feature() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    X = rng.normal(size=(80, 20))
    X[:, 7] += 2.0 * y
    assert MannWhitneySelector(0.01).fit(X, y).support_[7]
    assert np.argmax(ReliefSelector(0.1).fit(X, y).weights_) == 7


def test_corrected_ci_is_wider_than_naive() -> None:
    aucs = [0.8, 0.82, 0.78, 0.85, 0.75, 0.8, 0.83, 0.79]
    m, lo, hi = corrected_ci(aucs, 93, 23)
    naive = 2.365 * np.std(aucs, ddof=1) / np.sqrt(len(aucs))
    assert lo < m < hi and (hi - lo) / 2 > naive


def _ensemble_vs_rf(n_outer: int, n_workflows: int, top_k: int, n_splits: int,
                    data: tuple | None = None) -> tuple[float, float]:
    X, y, g = data or _data(116, 120, seed=1)
    ens_auc, rf_auc = [], []
    outer = StratifiedShuffleSplit(n_splits=n_outer, test_size=0.2, random_state=11)
    for k, (tr, te) in enumerate(outer.split(X, y)):
        ens, _ = fit_ensemble(X[tr], y[tr], g, n_workflows=n_workflows, top_k=top_k,
                              seed=k, n_splits=n_splits, n_jobs=2, progress=False)
        ens_auc.append(roc_auc_score(y[te], ens.predict_proba(X[te])))
        imp = SimpleImputer().fit(X[tr])
        rf = RandomForestClassifier(random_state=0).fit(imp.transform(X[tr]), y[tr])
        rf_auc.append(roc_auc_score(y[te], rf.predict_proba(imp.transform(X[te]))[:, 1]))
    return float(np.mean(ens_auc)), float(np.mean(rf_auc))


def test_ensemble_beats_default_random_forest_short() -> None:
    ens, rf = _ensemble_vs_rf(n_outer=3, n_workflows=24, top_k=6, n_splits=3)
    assert ens > rf, (ens, rf)


@pytest.mark.slow
def test_ensemble_beats_default_random_forest_on_synthetic_train_cohort() -> None:
    """Inner CV (5x stratified 80/20) on the synthetic twin's train cohort features."""
    from node.classify.data import groups_of
    from node.radiomics.cohort import read_features_csv

    cohort = Path(os.environ.get("LIPO_NODE_TEST_COHORTS", "/work/cohorts")) / "train"
    if not (cohort / "features.csv").is_file():
        pytest.skip("synthetic train cohort features not extracted (lipo-node features-cohort)")
    feats, _ = read_features_csv(cohort / "features.csv")
    labels = pd.read_csv(cohort / "labels.csv", dtype={"Patient": str}).set_index("Patient")
    X = feats.loc[labels.index].to_numpy(dtype=float)
    y = (labels["label"] == "alt").to_numpy(dtype=int)
    ens, rf = _ensemble_vs_rf(n_outer=5, n_workflows=100, top_k=20, n_splits=5,
                              data=(X, y, groups_of(list(feats.columns))))
    assert ens > rf, (ens, rf)


def test_rank_auc_and_bootstrap_match_sklearn() -> None:
    from node.classify.card import auc_fast, bootstrap_auc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 150)
    p = np.round(rng.random(150) + 0.4 * y, 1)  # rounded: ties must count half
    assert auc_fast(y.astype(float), p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    auc, lo, hi = bootstrap_auc(y, p, n_boot=2000)
    assert lo < auc < hi and hi - lo < 0.25
