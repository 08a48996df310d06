"""Markdown and HTML report laid out like Table 2 of Spaanderman et al. 2024.

Two views of the same numbers: an overview (one row per model or reader, one column per
cohort, AUC [95 % CI]) and, per cohort, the paper's block: AUC, BCA, sensitivity,
specificity [95 % CI] and the DeLong p-value against the radiomics ("imaging") model.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import jinja2
import numpy as np

from node.evaluate.cohort import CohortResult
from node.evaluate.resampling import Estimate

__all__ = ["render_html", "render_markdown", "write_report"]

_METHOD_TEXT = {
    "bootstrap": "{n}x stratified bootstrap of the test predictions, percentile 95 % CI",
    "cv-corrected-t": "mean over {n} random train/test splits, 95 % CI by the corrected "
                      "resampled t-test (Nadeau & Bengio 2003)",
}

_TEMPLATES = Path(__file__).with_name("templates")


def _fmt(e: Estimate) -> str:
    if not all(math.isfinite(v) for v in (e.value, e.low, e.high)):
        return f"{e.value:.2f}" if math.isfinite(e.value) else "n/a"
    return e.format(2)


def _pval(d: object) -> str:
    if d is None:
        return ""
    p = d.p_value  # type: ignore[attr-defined]
    return "<0.01" if p < 0.01 else f"{p:.2f}"


def _kfmt(k: float | None) -> str:
    return "n/a" if k is None or not math.isfinite(k) else f"{k:.2f}"


def _kappa_text(kappas: tuple) -> str:
    parts = []
    for k in kappas:
        extra = ("" if k.weighted is None
                 else f" (quadratic-weighted on scores {_kfmt(k.weighted)})")
        parts.append(f"{k.rater_a} vs {k.rater_b} {_kfmt(k.kappa)}{extra}")
    return "; ".join(parts)


def _cells(row: object) -> list[str]:
    m = row.metrics  # type: ignore[attr-defined]
    return [_fmt(m.auc), _fmt(m.bca), _fmt(m.sensitivity), _fmt(m.specificity),
            _pval(row.delong)]  # type: ignore[attr-defined]


def _context(results: list[CohortResult], title: str, intro: str, figure: str | None) -> dict:
    models: list[str] = []
    for res in results:
        for r in res.rows:
            if r.model not in models:
                models.append(r.model)
    cohorts = []
    for res in results:
        m0 = res.rows[0].metrics
        n_pos = m0.n_positive if m0.n_positive >= 0 else int(res.curves[0].per_patient().y.sum())
        cohorts.append({"cohort": res.cohort, "n": m0.n, "n_pos": n_pos, "result": res,
                        "method_text": _METHOD_TEXT[res.method].format(n=m0.resamples)})

    def auc_cell(c: dict, model: str) -> str:
        row = next((r for r in c["result"].rows if r.model == model), None)
        return "–" if row is None else _fmt(row.metrics.auc)

    return {"title": title, "intro": intro, "cohorts": cohorts, "models": models,
            "figure": figure, "cells": _cells, "kappa_text": _kappa_text, "auc_cell": auc_cell}


def _env(html: bool) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=html,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_markdown(results: list[CohortResult], title: str, intro: str = "",
                    figure: str | None = None) -> str:
    return _env(False).get_template("report.md").render(
        **_context(results, title, intro, figure))


def render_html(results: list[CohortResult], title: str, intro: str = "",
                figure: str | None = None) -> str:
    return _env(True).get_template("report.html").render(
        **_context(results, title, intro, figure))


def _json_default(o: object) -> object:
    if isinstance(o, np.ndarray):
        return None  # per-patient arrays stay out of the summary JSON
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def write_report(results: list[CohortResult], out_dir: Path, title: str, intro: str = "",
                 figure: Path | None = None) -> dict[str, Path]:
    """Write report.md, report.html and results.json into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = figure.name if figure is not None else None
    paths = {"md": out_dir / "report.md", "html": out_dir / "report.html",
             "json": out_dir / "results.json"}
    paths["md"].write_text(render_markdown(results, title, intro, fig))
    paths["html"].write_text(render_html(results, title, intro, fig))
    summary = [{"cohort": r.cohort, "method": r.method, "reference": r.reference,
                "rows": [asdict(row) for row in r.rows],
                "kappas": [asdict(k) for k in r.kappas]} for r in results]
    paths["json"].write_text(json.dumps(summary, indent=1, default=_json_default,
                                        allow_nan=True))
    return paths
