"""Random search over workflows and the top-K ensemble (WORC's default model).

Every workflow is scored on the same ``n_splits`` stratified shuffle splits (80/20) of the
training data by mean ROC AUC; workflows that fail (a singular QDA, SMOTE without enough
neighbours) score NaN and rank last. The ensemble refits the ``top_k`` best on all training
data and averages their posterior probabilities of ALT. Workflow *i* is drawn from seed
``seed * 1_000_003 + i`` so the same seed always gives the same workflows, the same
ranking and the same ensemble.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit
from tqdm import tqdm

from node.classify.search import ClassifierKind, WorkflowSpec, build_pipeline, sample_workflow


@dataclass(frozen=True)
class WorkflowScore:
    spec: WorkflowSpec
    auc: float          # mean inner-CV AUC (NaN when the workflow failed)
    auc_sd: float
    error: str = ""     # why the workflow failed ("" when it did not): a bench reports these


def _score(spec: WorkflowSpec, groups: tuple[str, ...], X: np.ndarray, y: np.ndarray,
           splits: list[tuple[np.ndarray, np.ndarray]]) -> WorkflowScore:
    pipe = build_pipeline(spec, groups)
    aucs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tr, te in splits:
            try:
                p = clone(pipe).fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
                if not np.all(np.isfinite(p)):
                    raise ValueError("non-finite posterior")
                aucs.append(roc_auc_score(y[te], p))
            except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, RuntimeError) as exc:
                return WorkflowScore(spec, float("nan"), float("nan"), f"{type(exc).__name__}: {exc}"[:300])
    return WorkflowScore(spec, float(np.mean(aucs)), float(np.std(aucs)))


def patient_splits(y: np.ndarray, patients: np.ndarray | None, n_splits: int, test_size: float,
                   seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified shuffle splits of rows; with ``patients`` (one id per row, e.g. a truth mask
    and perturbed copies of the same case) a patient's rows stay on one side of every split,
    so the inner score never sees a copy of a case it was trained on."""
    if patients is None:
        return list(StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size,
                                           random_state=seed).split(np.zeros(len(y)), y))
    patients = np.asarray(patients)
    uniq, first = np.unique(patients, return_index=True)
    yu = y[first]
    out = []
    for tr, te in StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size,
                                         random_state=seed).split(np.zeros(len(uniq)), yu):
        out.append((np.flatnonzero(np.isin(patients, uniq[tr])),
                    np.flatnonzero(np.isin(patients, uniq[te]))))
    return out


def workflow_seed(seed: int, i: int) -> int:
    return (seed * 1_000_003 + i) % (2**31 - 1)


def search(X: np.ndarray, y: np.ndarray, groups: tuple[str, ...], *, n_workflows: int,
           n_splits: int = 5, test_size: float = 0.2, seed: int = 0, n_jobs: int = 1,
           classifiers: tuple[ClassifierKind, ...] = tuple(ClassifierKind),
           progress: bool = True, patients: np.ndarray | None = None) -> list[WorkflowScore]:
    """All sampled workflows scored, best first (ties keep sampling order)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=int)
    splits = patient_splits(y, patients, n_splits, test_size, seed)
    available = tuple(dict.fromkeys(groups))
    specs = [sample_workflow(workflow_seed(seed, i), available, classifiers)
             for i in range(n_workflows)]
    jobs = (delayed(_score)(s, groups, X, y, splits) for s in specs)
    it = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    scores = list(tqdm(it, total=n_workflows, desc="workflows", disable=not progress))
    order = sorted(range(len(scores)),
                   key=lambda i: (-scores[i].auc if np.isfinite(scores[i].auc) else np.inf, i))
    return [scores[i] for i in order]


def _refit(spec: WorkflowSpec, groups: tuple[str, ...], X: np.ndarray, y: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return build_pipeline(spec, groups).fit(X, y)
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, RuntimeError):
            return None


class Ensemble:
    """Mean posterior of the top-K workflows, each refit on all training data."""

    def __init__(self, ranked: list[WorkflowScore], top_k: int, groups: tuple[str, ...]) -> None:
        ok = [s for s in ranked if np.isfinite(s.auc)]
        if not ok:
            raise ValueError("no workflow could be fitted on this training data")
        self.members = ok[:top_k]
        self.groups = groups
        self.pipelines_: list = []

    def fit(self, X: np.ndarray, y: np.ndarray, n_jobs: int = 1) -> Ensemble:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=int)
        fitted = Parallel(n_jobs=n_jobs)(delayed(_refit)(m.spec, self.groups, X, y)
                                         for m in self.members)
        kept = [(m, p) for m, p in zip(self.members, fitted, strict=True) if p is not None]
        if not kept:
            raise ValueError("no top workflow could be refitted on all training data")
        self.members = [m for m, _ in kept]
        self.pipelines_ = [p for _, p in kept]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(ALT) per row: the mean of the members' posteriors."""
        X = np.asarray(X, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probs = np.stack([p.predict_proba(X)[:, 1] for p in self.pipelines_])
        return np.nanmean(probs, axis=0)


def fit_ensemble(X: np.ndarray, y: np.ndarray, groups: tuple[str, ...], *, n_workflows: int,
                 top_k: int, seed: int = 0, n_jobs: int = 1, n_splits: int = 5,
                 progress: bool = True, patients: np.ndarray | None = None
                 ) -> tuple[Ensemble, list[WorkflowScore]]:
    """Search, then refit the top K. Returns the fitted ensemble and the full ranking."""
    ranked = search(X, y, groups, n_workflows=n_workflows, n_splits=n_splits, seed=seed,
                    n_jobs=n_jobs, progress=progress, patients=patients)
    return Ensemble(ranked, top_k, groups).fit(X, y, n_jobs=n_jobs), ranked
