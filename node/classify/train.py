"""Training a bundle from a WORC-layout cohort, and the outer cross-validation for its card.

Outer CV follows the paper (WORC default): repeated stratified 80/20 splits of the training
cohort (here the folds of repeated 5-fold CV, so each case is tested equally often), the
whole search + ensemble run inside each training part, AUC on the held-out part, and the
95 % CI from the corrected resampled t-test (Nadeau & Bengio 2003):
sd = sqrt((1/R + n_test/n_train) · S²).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from node.classify.bundle import Bundle, Manifest, package_versions
from node.classify.config import ClassifyConfig
from node.classify.data import (
    ClinicalEncoder,
    ModelKind,
    cohort_hash,
    groups_of,
    model_frame,
    read_labels,
)
from node.classify.ensemble import fit_ensemble
from node.classify.ood import OodDetector


def corrected_ci(aucs: list[float], n_train: int, n_test: int, level: float = 0.95
                 ) -> tuple[float, float, float]:
    """Mean and CI of repeated-split scores, Nadeau–Bengio corrected resampled t-test."""
    a = np.asarray(aucs, dtype=np.float64)
    r = len(a)
    m = float(a.mean())
    if r < 2:
        return m, float("nan"), float("nan")
    sd = np.sqrt((1.0 / r + n_test / n_train) * a.var(ddof=1))
    t = stats.t.ppf(0.5 + level / 2, r - 1)
    return m, float(max(0.0, m - t * sd)), float(min(1.0, m + t * sd))


def cross_validate(X: pd.DataFrame, y: np.ndarray, cfg: ClassifyConfig, repeats: int,
                   n_workflows: int, progress: bool = True,
                   patients: np.ndarray | None = None, score_rows: np.ndarray | None = None
                   ) -> tuple[dict[str, float], np.ndarray]:
    """Outer CV of the whole AutoML: ``repeats`` stratified 80/20 train/test partitions.

    The partitions are the folds of repeated stratified 5-fold CV, so every case is tested
    equally often; the search + ensemble runs inside each training part. Returns the AUC
    mean with the corrected 95 % CI, and the out-of-fold P(ALT) per row (mean over the
    repeats in which it was tested; NaN if never).

    With ``patients`` (augmented training: several rows per case, see
    :mod:`node.classify.maskaug`) the partitions are drawn over patients, so no copy of a test
    case is trained on, and the AUC is taken on the ``score_rows`` (e.g. the truth-mask rows)
    of the test patients, so it compares with a model trained without copies.
    """
    groups = groups_of(list(X.columns))
    Xa = X.to_numpy(dtype=np.float64)
    y = np.asarray(y, dtype=int)
    aucs = []
    oof_sum, oof_n = np.zeros(len(y)), np.zeros(len(y))
    rskf = RepeatedStratifiedKFold(n_splits=5, n_repeats=max(1, -(-repeats // 5)),
                                   random_state=cfg.seed + 7)
    if patients is None:
        parts = rskf.split(Xa, y)
        n_cases = len(y)
    else:
        patients = np.asarray(patients)
        uniq, first = np.unique(patients, return_index=True)
        parts = ((np.flatnonzero(np.isin(patients, uniq[a])),
                  np.flatnonzero(np.isin(patients, uniq[b])))
                 for a, b in rskf.split(np.zeros(len(uniq)), y[first]))
        n_cases = len(uniq)
    score = np.ones(len(y), bool) if score_rows is None else np.asarray(score_rows, bool)
    for r, (tr, te) in enumerate(parts):
        if r >= repeats:
            break
        ens, _ = fit_ensemble(Xa[tr], y[tr], groups, n_workflows=n_workflows,
                              top_k=min(cfg.top_k, n_workflows), seed=cfg.seed + 1000 + r,
                              n_jobs=cfg.n_jobs, n_splits=cfg.n_splits, progress=progress,
                              patients=None if patients is None else patients[tr])
        p = ens.predict_proba(Xa[te])
        oof_sum[te] += p
        oof_n[te] += 1
        keep = score[te]
        aucs.append(float(roc_auc_score(y[te][keep], p[keep])))
    n_test = round(0.2 * n_cases)
    m, lo, hi = corrected_ci(aucs, n_cases - n_test, n_test)
    with np.errstate(invalid="ignore"):
        oof = oof_sum / oof_n
    return ({"outer_repeats": len(aucs), "outer_workflows": n_workflows, "auc_mean": m,
             "auc_ci_low": lo, "auc_ci_high": hi, "aucs": aucs}, oof)


def train_bundle(X: pd.DataFrame, y: np.ndarray, kind: ModelKind, encoder: ClinicalEncoder,
                 cfg: ClassifyConfig, *, settings_hash: str | None, cohort_name: str,
                 model_id: str, version: str, progress: bool = True,
                 patients: np.ndarray | None = None, score_rows: np.ndarray | None = None,
                 training_masks: str = "reference") -> Bundle:
    """Search, ensemble, OOD detector and manifest on one training matrix.

    ``patients``/``score_rows``: rows of an augmented matrix (see :func:`cross_validate`);
    the OOD detector is fitted on the ``score_rows`` only, so its threshold keeps meaning
    "unlike the training cases". ``training_masks`` is recorded in the manifest's ``cv``.
    """
    y = np.asarray(y, dtype=int)
    groups = groups_of(list(X.columns))
    Xa = X.to_numpy(dtype=np.float64)
    ens, ranked = fit_ensemble(Xa, y, groups, n_workflows=cfg.n_workflows, top_k=cfg.top_k,
                               seed=cfg.seed, n_jobs=cfg.n_jobs, n_splits=cfg.n_splits,
                               progress=progress, patients=patients)
    base = Xa if score_rows is None else Xa[np.asarray(score_rows, bool)]
    y_case = y if patients is None else y[np.unique(np.asarray(patients), return_index=True)[1]]
    ood = OodDetector(cfg.ood_quantile, cfg.seed).fit(base)
    finite = [s.auc for s in ranked if np.isfinite(s.auc)]
    cv: dict = {"inner_best_auc": finite[0] if finite else None,
                "inner_topk_mean_auc": float(np.mean([m.auc for m in ens.members])),
                "failed_workflows": len(ranked) - len(finite), "training_masks": training_masks}
    if cfg.cv_repeats:
        cv.update(cross_validate(X, y, cfg, cfg.cv_repeats,
                                 cfg.cv_workflows or cfg.n_workflows, progress,
                                 patients=patients, score_rows=score_rows)[0])
    manifest = Manifest(
        model_id=model_id, version=version, model_kind=kind, feature_names=list(X.columns),
        settings_hash=None if kind is ModelKind.CLINICAL else settings_hash,
        package_versions=package_versions(), training_cohort=cohort_name,
        training_cohort_hash=cohort_hash(X, y),
        n_train=len(y_case), n_alt=int(y_case.sum()),
        n_workflows=cfg.n_workflows, top_k=len(ens.members), seed=cfg.seed, cv=cv,
        threshold=cfg.threshold, ood_threshold=ood.threshold_,
        members=[{"auc": m.auc, "auc_sd": m.auc_sd, **m.spec.to_json()} for m in ens.members])
    return Bundle(manifest, ens, ood, encoder)


def cohort_matrix(cohort_dir: Path, kind: ModelKind, features: pd.DataFrame | None,
                  encoder: ClinicalEncoder | None = None
                  ) -> tuple[pd.DataFrame, np.ndarray, ClinicalEncoder, pd.DataFrame]:
    """(X, y, encoder, labels) of a cohort for ``kind``; the encoder is learnt if not given."""
    labels = read_labels(cohort_dir)
    enc = encoder or ClinicalEncoder.from_frame(labels)
    X = model_frame(kind, features, labels, enc)
    return X, labels["y"].to_numpy(dtype=int), enc, labels


def default_version() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d")
