"""Prediction tables: the CSVs that ``lipo-node evaluate`` reads.

One CSV per cohort (or per model): columns ``Patient,label,prob`` plus optional ``model``
(several models in one file), ``split`` (cross-validation iteration, one row per test
prediction) and ``decision`` (the model's or reader's own ALT call as 0/1 or alt/lipoma;
without it the call is ``prob >= threshold``). ``label`` is ``alt``/``lipoma`` or 1/0
(1 = ALT, the positive class, as in the paper). Reader CSVs use the same columns; their
``prob`` is the reader's score (e.g. the ten-point certainty scale of the paper).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from node.errors import LipoNodeError

__all__ = ["ModelPredictions", "PredictionFileError", "Source", "read_predictions"]

_POSITIVE = {"alt", "1", "1.0", "true", "yes"}
_NEGATIVE = {"lipoma", "0", "0.0", "false", "no"}


class PredictionFileError(LipoNodeError):
    """A predictions CSV lacks a column, has an unknown label or a non-numeric probability."""

    code = "bad_predictions_file"


class Source(StrEnum):
    MODEL = "model"
    READER = "reader"


@dataclass(frozen=True)
class ModelPredictions:
    """All predictions of one model (or reader) on one cohort."""

    model: str
    source: Source
    patients: np.ndarray        # str
    y: np.ndarray               # 0/1
    scores: np.ndarray          # float
    decisions: np.ndarray       # bool
    split: np.ndarray | None    # CV iteration per row, None for a plain test set
    n_missing: int = 0          # rows without a probability (e.g. never tested in CV), left out

    def per_patient(self) -> ModelPredictions:
        """One row per patient (mean score over CV iterations; majority call)."""
        if self.split is None:
            return self
        uniq, inv = np.unique(self.patients, return_inverse=True)
        count = np.bincount(inv)
        score = np.bincount(inv, self.scores) / count
        dec = np.bincount(inv, self.decisions.astype(float)) / count >= 0.5
        y = np.zeros(uniq.size, dtype=int)
        y[inv] = self.y
        return ModelPredictions(self.model, self.source, uniq, y, score, dec, None,
                                self.n_missing)


def _label(value: str, where: str) -> int:
    v = value.strip().lower()
    if v in _POSITIVE:
        return 1
    if v in _NEGATIVE:
        return 0
    raise PredictionFileError(f"{where}: label {value!r} is neither alt/1 nor lipoma/0")


def read_predictions(path: Path | str, model: str | None = None, source: Source = Source.MODEL,
                     threshold: float = 0.5) -> list[ModelPredictions]:
    """Read one CSV into one :class:`ModelPredictions` per ``model`` value.

    ``model`` names the model when the file has no ``model`` column (default: file stem).
    """
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise PredictionFileError(f"cannot read {path}: {exc}") from exc
    if not rows:
        raise PredictionFileError(f"{path}: no rows")
    missing = {"Patient", "label", "prob"} - set(rows[0])
    if missing:
        raise PredictionFileError(f"{path}: missing column(s) {sorted(missing)} "
                                  "(need Patient,label,prob[,model,split,decision])")
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for i, row in enumerate(rows, start=2):
        name = (row.get("model") or "").strip() or model or path.stem.removeprefix(
            "predictions_")
        groups.setdefault(name, []).append((i, row))
    out = []
    for name, items in groups.items():
        y, s, d, pid, split = [], [], [], [], []
        missing = 0
        for line, row in items:
            where = f"{path}:{line}"
            label = _label(row["label"], where)
            text = (row["prob"] or "").strip()
            if text.lower() in ("", "nan", "na"):
                missing += 1  # no prediction for this case: counted and reported, not scored
                continue
            try:
                prob = float(text)
            except ValueError as exc:
                raise PredictionFileError(f"{where}: prob {text!r} is not a number") from exc
            if not np.isfinite(prob):
                raise PredictionFileError(f"{where}: prob is infinite")
            y.append(label)
            s.append(prob)
            dec = (row.get("decision") or "").strip()
            d.append(bool(_label(dec, where)) if dec else s[-1] >= threshold)
            pid.append(row["Patient"].strip())
            split.append((row.get("split") or "").strip())
        has_split = any(split)
        if has_split and not all(split):
            raise PredictionFileError(f"{path}: model {name}: some rows lack a split")
        if not has_split and len(set(pid)) != len(pid):
            raise PredictionFileError(f"{path}: model {name}: a patient appears twice without a "
                                      "split column (CV predictions need one)")
        out.append(ModelPredictions(name, source, np.array(pid), np.array(y, dtype=int),
                                    np.array(s, dtype=float), np.array(d, dtype=bool),
                                    np.array(split) if has_split else None, missing))
    return out
