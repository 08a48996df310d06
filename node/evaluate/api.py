"""Evaluate prediction CSVs of several cohorts and write the Table-2 report (plain functions
behind ``lipo-node evaluate predictions|cv``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from node.evaluate.cohort import REFERENCE_MODEL, CohortResult, evaluate_cohort
from node.evaluate.predictions import ModelPredictions, Source, read_predictions
from node.evaluate.report import write_report
from node.evaluate.roc import CurveInput, plot_cohorts

__all__ = ["CohortFiles", "ReportFiles", "evaluate_and_report", "evaluate_files"]


@dataclass(frozen=True)
class CohortFiles:
    """The prediction CSVs (models) and reader CSVs of one cohort, in report order."""

    name: str
    predictions: tuple[Path, ...]
    readers: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    json: Path
    png: Path
    svg: Path
    results: list[CohortResult] = field(repr=False)


def evaluate_files(cohorts: list[CohortFiles], threshold: float = 0.5,
                   reader_threshold: float | None = None, n_boot: int = 10_000,
                   seed: int = 0, reference: str = REFERENCE_MODEL) -> list[CohortResult]:
    results = []
    for c in cohorts:
        preds: list[ModelPredictions] = []
        for p in c.predictions:
            preds.extend(read_predictions(p, threshold=threshold))
        for p in c.readers:
            preds.extend(read_predictions(p, source=Source.READER,
                                          threshold=threshold if reader_threshold is None
                                          else reader_threshold))
        results.append(evaluate_cohort(c.name, preds, reference=reference, n_boot=n_boot,
                                       seed=seed))
    return results


def evaluate_and_report(results: list[CohortResult], out_dir: Path, title: str,
                        intro: str = "", roc_boot: int = 1000, seed: int = 0) -> ReportFiles:
    """ROC figure (``roc.png``/``roc.svg``) plus report.md/.html/results.json in ``out_dir``."""
    panels = {r.cohort: [CurveInput(p.model, p.y, p.scores, p.decisions,
                                    p.source is Source.READER, p.split) for p in r.curves]
              for r in results}
    png, svg = plot_cohorts(panels, Path(out_dir) / "roc", n_boot=roc_boot, seed=seed,
                            band_for=results[0].reference)
    paths = write_report(results, out_dir, title, intro, figure=png)
    return ReportFiles(paths["md"], paths["html"], paths["json"], png, svg, results)
