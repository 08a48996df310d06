"""The paper's 100x random 80/20 split CV: per-split test predictions the evaluate report reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.metrics import roc_auc_score

from node.classify.data import ModelKind
from node.classify.paper_cv import split_predictions
from node.evaluate.resampling import random_splits


def _frame(n: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_classification(n, 12, n_informative=6, class_sep=1.0, random_state=2)
    cols = [f"original_firstorder_F{i}" for i in range(12)]
    return pd.DataFrame(X, index=[f"tr-{i:03d}" for i in range(n)], columns=cols), y


def test_each_split_tests_its_own_stratified_fifth_and_is_reproducible(tmp_path: Path) -> None:
    X, y = _frame()
    kw = dict(n_splits=4, n_workflows=3, top_k=2, seed=5, n_jobs=1)
    df = split_predictions(X, y, ModelKind.RADIOMICS, **kw)
    again = split_predictions(X, y, ModelKind.RADIOMICS, **kw)
    pd.testing.assert_frame_equal(df, again)
    assert sorted(df["split"].unique()) == [0, 1, 2, 3]
    for k, (_, te) in enumerate(random_splits(y, 4, 0.2, seed=5)):
        part = df[df["split"] == k]
        assert list(part["Patient"]) == [X.index[i] for i in te]  # the same splits evaluate uses
        assert (part["label"] == "alt").sum() == int(y[te].sum())
    assert df["prob"].between(0, 1).all()
    aucs = [roc_auc_score(p["label"] == "alt", p["prob"]) for _, p in df.groupby("split")]
    assert np.mean(aucs) > 0.6  # separable data: the AutoML learns something on every 80 %

    from node.cli import main

    f = tmp_path / "cv_predictions_radiomics.csv"
    df.to_csv(f, index=False)
    assert main(["evaluate", "cv", "--cohort", f"train={f}", "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "mean over 4 random" in md and f"| radiomics | {np.mean(aucs):.2f} [" in md
