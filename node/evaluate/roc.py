"""ROC curves with bootstrap confidence bands (matplotlib, Agg backend, PNG + SVG).

The band is the pointwise 2.5-97.5th percentile of the sensitivity at a fixed grid of
1 - specificity values over stratified bootstrap resamples ("vertical averaging",
Fawcett, Pattern Recogn. Lett. 27:861-874, 2006). Readers with a single operating point
are drawn as markers, as in Fig. 4A of Spaanderman et al. 2024.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from node.evaluate.metrics import auc, check_binary, threshold_metrics

__all__ = ["CurveInput", "RocBand", "cv_roc_band", "plot_cohorts", "roc_band"]

GRID = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class RocBand:
    label: str
    auc: float
    fpr: np.ndarray
    tpr: np.ndarray
    grid: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _empirical_roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at every distinct threshold, tied scores as one step (as roc_curve)."""
    order = np.argsort(-s, kind="stable")
    ss, yy = s[order], y[order]
    last = np.r_[ss[1:] != ss[:-1], True]
    tp = np.cumsum(yy)[last]
    fp = np.cumsum(1 - yy)[last]
    return np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]


def _tpr_on_grid(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    fpr, tpr = _empirical_roc(y, s)
    # the upper envelope at vertical segments: TPR reached at each FPR
    return np.interp(GRID, fpr, tpr, left=0.0, right=1.0)


def roc_band(label: str, y: np.ndarray, scores: np.ndarray, n_boot: int = 1000,
             seed: int = 0, level: float = 0.95) -> RocBand:
    """Empirical ROC of ``scores`` and its stratified-bootstrap band (seeded)."""
    y = check_binary(y, scores)
    s = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    curves = np.empty((n_boot, GRID.size))
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        curves[b] = _tpr_on_grid(y[idx], s[idx])
    low, high = np.percentile(curves, [50 * (1 - level), 50 * (1 + level)], axis=0)
    fpr, tpr, _ = roc_curve(y, s)
    return RocBand(label, float(auc(y, s)), fpr, tpr, GRID, low, high)


def cv_roc_band(label: str, y: np.ndarray, scores: np.ndarray, split: np.ndarray,
                level: float = 0.95) -> RocBand:
    """Cross-validation ROC: mean over splits of each split's test ROC (vertical averaging);
    the band spans the 2.5-97.5th percentile of the split curves; AUC = mean split AUC."""
    y = check_binary(y, scores)
    s = np.asarray(scores, dtype=float)
    keys = np.unique(split)
    curves = np.array([_tpr_on_grid(y[split == k], s[split == k]) for k in keys])
    aucs = [auc(y[split == k], s[split == k]) for k in keys]
    low, high = np.percentile(curves, [50 * (1 - level), 50 * (1 + level)], axis=0)
    mean = curves.mean(axis=0)
    return RocBand(label, float(np.mean(aucs)), GRID, mean, GRID, low, high)


@dataclass(frozen=True)
class CurveInput:
    """What one line (model) or marker (reader) of a panel needs; ``split`` for CV rows."""

    label: str
    y: np.ndarray
    scores: np.ndarray
    decisions: np.ndarray
    reader: bool
    split: np.ndarray | None = None


def plot_cohorts(panels: dict[str, list[CurveInput]], out_stem: Path, n_boot: int = 1000,
                 seed: int = 0, band_for: str = "radiomics") -> tuple[Path, Path]:
    """One panel per cohort; a band for ``band_for``, lines for the other models, markers for
    readers. Writes ``out_stem``.png and .svg (SVG without random ids: reproducible)."""
    if not panels:
        raise ValueError("no cohorts to plot")
    n = len(panels)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    plt.rcParams["svg.hashsalt"] = "lipo-node"
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.2 * rows), squeeze=False)
    for ax, (cohort, curves) in zip(axes.flat, panels.items(), strict=False):
        for i, c in enumerate(curves):
            color = f"C{i}"
            if c.reader:
                sens, spec = threshold_metrics(c.y, c.decisions)
                ax.plot(1 - spec, sens, marker="o", ls="none", color=color,
                        label=f"{c.label} (AUC {auc(c.y, c.scores):.2f})")
                continue
            band = (roc_band(c.label, c.y, c.scores, n_boot=n_boot, seed=seed)
                    if c.split is None else cv_roc_band(c.label, c.y, c.scores, c.split))
            ax.plot(band.fpr, band.tpr, color=color, lw=2 if c.label == band_for else 1.2,
                    label=f"{c.label} (AUC {band.auc:.2f})")
            if c.label == band_for:
                ax.fill_between(band.grid, band.low, band.high, color=color, alpha=0.2,
                                lw=0, label="95 % CI")
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
        ax.set(title=cohort, xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1),
               ylim=(0, 1.01), aspect="equal")
        ax.legend(loc="lower right", fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = out_stem.with_suffix(".png"), out_stem.with_suffix(".svg")
    fig.savefig(png, dpi=110)
    fig.savefig(svg, metadata={"Date": None})
    plt.close(fig)
    return png, svg
