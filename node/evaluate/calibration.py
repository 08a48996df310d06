"""Calibration of P(ALT): reliability curve, Brier score, and a Platt map fitted out of sample.

P(ALT) is read as a probability ("0.83 - ALT likely"), so an AUC is not enough: a model can
rank well and still say 0.9 where one in two is ALT. Reported per cohort:

- reliability curve: cases binned by predicted P(ALT) (equal-count bins, so every point rests
  on the same number of cases), mean prediction vs observed ALT share with a Wilson 95 % CI;
- Brier score (mean squared error of the probability; 0 is perfect, prevalence*(1-prevalence)
  is what always predicting the prevalence scores) with a bootstrap CI;
- calibrated probabilities: Platt scaling (logistic regression on logit P(ALT); Platt 1999)
  fitted on the *training* cohort's out-of-fold predictions only and applied unchanged to the
  test cohorts, so its effect on their Brier score is measured out of sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

_EPS = 1e-6


@dataclass(frozen=True)
class ReliabilityBin:
    mean_predicted: float
    observed: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Calibration:
    cohort: str
    model: str
    n: int
    brier: float
    brier_low: float
    brier_high: float
    brier_reference: float        # always predicting the cohort's prevalence
    bins: tuple[ReliabilityBin, ...]
    brier_calibrated: float | None = None
    bins_calibrated: tuple[ReliabilityBin, ...] = ()


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, c - h), min(1.0, c + h)


def reliability(y: np.ndarray, p: np.ndarray, n_bins: int = 5) -> tuple[ReliabilityBin, ...]:
    """Equal-count bins of predicted probability (fewer when the cohort is small)."""
    y, p = np.asarray(y, int), np.asarray(p, float)
    n_bins = max(1, min(n_bins, len(y) // 5 or 1))
    order = np.argsort(p, kind="stable")
    out = []
    for idx in np.array_split(order, n_bins):
        if idx.size == 0:
            continue
        k = int(y[idx].sum())
        lo, hi = _wilson(k, idx.size)
        out.append(ReliabilityBin(float(p[idx].mean()), k / idx.size, lo, hi, int(idx.size)))
    return tuple(out)


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def brier_ci(y: np.ndarray, p: np.ndarray, n_boot: int = 2000, seed: int = 0
             ) -> tuple[float, float]:
    y, p = np.asarray(y, float), np.asarray(p, float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), (n_boot, len(y)))
    b = ((p[idx] - y[idx]) ** 2).mean(axis=1)
    return float(np.percentile(b, 2.5)), float(np.percentile(b, 97.5))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class PlattMap:
    """P' = sigmoid(a * logit(P) + b)."""

    a: float
    b: float

    @classmethod
    def fit(cls, y: np.ndarray, p: np.ndarray) -> PlattMap:
        y = np.asarray(y, int)
        if len(set(y.tolist())) < 2:
            raise ValueError("Platt scaling needs both classes")
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p)[:, None], y)
        return cls(float(lr.coef_[0, 0]), float(lr.intercept_[0]))

    def apply(self, p: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a * _logit(p) + self.b)))


def calibrate(cohort: str, model: str, y: np.ndarray, p: np.ndarray,
              platt: PlattMap | None = None, n_bins: int = 5, seed: int = 0) -> Calibration:
    y, p = np.asarray(y, int), np.asarray(p, float)
    lo, hi = brier_ci(y, p, seed=seed)
    prev = float(y.mean())
    extra: dict = {}
    if platt is not None:
        pc = platt.apply(p)
        extra = {"brier_calibrated": brier(y, pc), "bins_calibrated": reliability(y, pc, n_bins)}
    return Calibration(cohort, model, len(y), brier(y, p), lo, hi, prev * (1 - prev),
                       reliability(y, p, n_bins), **extra)


def plot_reliability(cals: list[Calibration], out_stem: Path) -> tuple[Path, Path]:
    """One panel per cohort: raw (and Platt-calibrated) reliability curves with Wilson CIs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cohorts = list(dict.fromkeys(c.cohort for c in cals))
    fig, axes = plt.subplots(1, len(cohorts), figsize=(3.4 * len(cohorts), 3.6), squeeze=False)
    for ax, name in zip(axes[0], cohorts, strict=True):
        ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
        for c in (c for c in cals if c.cohort == name):
            for bins, style, tag in ((c.bins, "-o", ""), (c.bins_calibrated, ":s", " Platt")):
                if not bins:
                    continue
                x = [b.mean_predicted for b in bins]
                yv = [b.observed for b in bins]
                # Wilson bounds can sit a rounding error inside the observed share (k = 0 or
                # k = n): matplotlib refuses negative error bars
                err = [[max(0.0, v - b.low) for v, b in zip(yv, bins, strict=True)],
                       [max(0.0, b.high - v) for v, b in zip(yv, bins, strict=True)]]
                ax.errorbar(x, yv, yerr=err, fmt=style, ms=4, capsize=2, lw=1,
                            label=f"{c.model}{tag}")
        ax.set_title(name, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted P(ALT)", fontsize=8)
        ax.set_ylabel("observed ALT share", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = out_stem.with_suffix(".png"), out_stem.with_suffix(".svg")
    fig.savefig(png, dpi=130)
    fig.savefig(svg)
    plt.close(fig)
    return png, svg


def calibration_markdown(cals: list[Calibration], figure: str | None = None,
                         platt: str = "fitted on the training cohort's out-of-fold P(ALT) and "
                                      "applied unchanged") -> str:
    lines = ["## Calibration", "",
             "Brier score [bootstrap 95 % CI] (reference: always predicting the cohort's "
             f"prevalence); Platt map {platt}. Reliability bins: equal-count, observed ALT "
             "share with Wilson 95 % CI.", "",
             "| Cohort | Model | n | Brier | Brier (prevalence only) | Brier after Platt | "
             "reliability bins: mean P -> observed (n) |",
             "|---|---|---|---|---|---|---|"]
    for c in cals:
        bins = "; ".join(f"{b.mean_predicted:.2f}->{b.observed:.2f} ({b.n})" for b in c.bins)
        pc = "–" if c.brier_calibrated is None else f"{c.brier_calibrated:.3f}"
        lines.append(f"| {c.cohort} | {c.model} | {c.n} | {c.brier:.3f} [{c.brier_low:.3f}, "
                     f"{c.brier_high:.3f}] | {c.brier_reference:.3f} | {pc} | {bins} |")
    if figure:
        lines += ["", f"![Reliability curves]({figure})"]
    return "\n".join(lines) + "\n"
