"""The paper's cross-validation on the train cohort (``python -m node.classify.paper_cv``).

Spaanderman et al. 2024 report the training cohort as 100 random stratified 80/20 splits: the
whole AutoML (search + top-K ensemble) is run on each 80 % and scored on its 20 %, and the CI of
the mean comes from the corrected resampled t-test (node.evaluate.resampling). This module writes
those per-split test predictions as ``<results>/train/cv_predictions_<kind>.csv`` (Patient,
label, prob, model, split), which ``python -m node.evaluate.profiles`` evaluates per split.

Every split repeats the search, so the budget per split is small by default (``--workflows``,
``--top-k``); the bundled demo classifier itself is trained by ``node.classify.demo`` with the
full budget. Needs ``<cohorts>/train/features.csv`` from that run (radiomics/combined kinds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from node.classify.data import ModelKind, groups_of
from node.classify.ensemble import fit_ensemble
from node.classify.train import cohort_matrix
from node.evaluate.resampling import random_splits
from node.radiomics.cohort import read_features_csv


def split_predictions(X: pd.DataFrame, y: np.ndarray, kind: ModelKind, *, n_splits: int,
                      n_workflows: int, top_k: int, seed: int, n_jobs: int) -> pd.DataFrame:
    """One row per (split, test case): the P(ALT) of the ensemble fitted on that split's 80 %."""
    groups = groups_of(list(X.columns))
    Xa = X.to_numpy(dtype=np.float64)
    rows = []
    for k, (tr, te) in enumerate(random_splits(y, n_splits, 0.2, seed=seed)):
        ens, _ = fit_ensemble(Xa[tr], y[tr], groups, n_workflows=n_workflows, top_k=top_k,
                              seed=seed + 1000 + k, n_jobs=n_jobs, progress=False)
        prob = ens.predict_proba(Xa[te])
        rows += [{"Patient": X.index[i], "label": "alt" if y[i] else "lipoma", "prob": float(p),
                  "model": kind.value, "split": k} for i, p in zip(te, prob, strict=True)]
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m node.classify.paper_cv")
    ap.add_argument("--cohorts", type=Path, required=True,
                    help="folder of synthetic cohorts (lipo-node synth cohort --out DIR/<profile>)")
    ap.add_argument("--results", type=Path, default=None, help="default: --cohorts")
    ap.add_argument("--splits", type=int, default=100)
    ap.add_argument("--workflows", type=int, default=20, help="AutoML workflows per split")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--kinds", nargs="*", default=[k.value for k in ModelKind])
    args = ap.parse_args(argv)
    train = args.cohorts / "train"
    out_dir = (args.results or args.cohorts) / "train"
    features = None
    if (out_dir / "features.csv").is_file():
        features, _ = read_features_csv(out_dir / "features.csv")
    for name in args.kinds:
        kind = ModelKind(name)
        if kind in (ModelKind.RADIOMICS, ModelKind.COMBINED) and features is None:
            print(f"{kind.value}: no {out_dir / 'features.csv'} (run python -m node.classify.demo first)",
                  file=sys.stderr)
            return 1
        X, y, _, _ = cohort_matrix(train, kind, features)
        t0 = time.perf_counter()
        df = split_predictions(X, y, kind, n_splits=args.splits, n_workflows=args.workflows,
                               top_k=min(args.top_k, args.workflows), seed=args.seed, n_jobs=args.n_jobs)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / f".cv_predictions_{kind.value}.csv.partial"
        df.to_csv(tmp, index=False)
        tmp.replace(out_dir / f"cv_predictions_{kind.value}.csv")
        print(f"{kind.value}: {args.splits} splits in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
