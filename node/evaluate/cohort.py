"""Evaluate every model and reader on one cohort: Table 2 rows, DeLong vs the reference,
Cohen's kappa between readers (Spaanderman et al. 2024, Statistics)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from node.evaluate.delong import DelongResult, delong_test
from node.evaluate.metrics import KappaWeights, cohen_kappa
from node.evaluate.predictions import ModelPredictions, Source
from node.evaluate.resampling import MetricSet, bootstrap_metrics, cv_metrics

__all__ = ["CohortResult", "Kappa", "ModelRow", "evaluate_cohort"]

REFERENCE_MODEL = "radiomics"


@dataclass(frozen=True)
class ModelRow:
    model: str
    source: Source
    metrics: MetricSet
    delong: DelongResult | None   # this model vs the reference model (None for the reference)
    n_missing: int = 0            # cases in the file without a prediction


@dataclass(frozen=True)
class Kappa:
    rater_a: str
    rater_b: str
    kappa: float            # unweighted, on the ALT/lipoma calls
    weighted: float | None  # quadratic-weighted, on the scores when both are integer scales
    n: int


@dataclass(frozen=True)
class CohortResult:
    cohort: str
    method: str
    reference: str
    rows: tuple[ModelRow, ...]
    kappas: tuple[Kappa, ...]
    curves: tuple[ModelPredictions, ...]  # as read (CV rows keep their split), for ROC plots


def _paired(a: ModelPredictions, b: ModelPredictions) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray, np.ndarray]:
    common, ia, ib = np.intersect1d(a.patients, b.patients, return_indices=True)
    if common.size == 0:
        raise ValueError(f"{a.model} and {b.model} share no patients")
    if (a.y[ia] != b.y[ib]).any():
        raise ValueError(f"{a.model} and {b.model} disagree on the truth label of a patient")
    return a.y[ia], a.scores[ia], b.scores[ib], np.stack([a.decisions[ia], b.decisions[ib]])


def _kappa(a: np.ndarray, b: np.ndarray, weights: KappaWeights = KappaWeights.NONE) -> float:
    try:
        return cohen_kappa(a, b, weights)
    except ValueError:  # both raters gave one single category: kappa undefined
        return float("nan")


def _is_integer_scale(s: np.ndarray) -> bool:
    return bool(np.all(s == np.round(s)))


def evaluate_cohort(name: str, predictions: list[ModelPredictions],
                    reference: str = REFERENCE_MODEL, n_boot: int = 10_000,
                    seed: int = 0) -> CohortResult:
    """Bootstrap (test cohorts) or corrected-t (CV predictions with ``split``) per model."""
    if not predictions:
        raise ValueError(f"cohort {name}: no predictions")
    names = [p.model for p in predictions]
    if len(set(names)) != len(names):
        raise ValueError(f"cohort {name}: model names repeat: {names}")
    is_cv = predictions[0].split is not None
    if any((p.split is not None) != is_cv for p in predictions if p.source is Source.MODEL):
        raise ValueError(f"cohort {name}: mix of CV and plain test predictions")
    by_name = {p.model: p for p in predictions}
    flat = {p.model: p.per_patient() for p in predictions}
    ref = flat.get(reference)
    rows = []
    for p in predictions:
        if p.split is not None:
            metrics = cv_metrics(p.y, p.scores, p.decisions, p.split, patients=p.patients)
        else:
            metrics = bootstrap_metrics(p.y, p.scores, p.decisions, n_boot=n_boot, seed=seed)
        test = None
        if ref is not None and p.model != reference:
            y, s_ref, s_other, _ = _paired(ref, flat[p.model])
            test = delong_test(y, s_ref, s_other)
        rows.append(ModelRow(p.model, p.source, metrics, test, p.n_missing))
    # paper order: reference, readers, then the other models as given (stable sort)
    rows.sort(key=lambda r: (r.model != reference, r.source is not Source.READER))
    readers = [flat[p.model] for p in predictions if p.source is Source.READER]
    kappas = []
    for a, b in itertools.combinations(readers, 2):
        _, sa, sb, dec = _paired(a, b)
        weighted = (_kappa(sa, sb, KappaWeights.QUADRATIC)
                    if _is_integer_scale(sa) and _is_integer_scale(sb) else None)
        kappas.append(Kappa(a.model, b.model, _kappa(dec[0], dec[1]), weighted, sa.size))
    if ref is not None:
        for r in readers:
            _, _, _, dec = _paired(ref, r)
            kappas.append(Kappa(reference, r.model, _kappa(dec[0], dec[1]), None,
                                dec.shape[1]))
    return CohortResult(name, "cv-corrected-t" if is_cv else "bootstrap", reference,
                        tuple(rows), tuple(kappas), tuple(by_name[r.model] for r in rows))
