"""Model card for a bundle: training, inner/outer CV, external AUCs with bootstrap CIs.

External cohorts are summarised as in the paper (WORC default): AUC of the test predictions
with a 95 % percentile CI from 10,000 stratified-free bootstrap resamples. The AUC is
computed from ranks (Mann–Whitney form) so all resamples are evaluated at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from node.classify.bundle import Bundle


def auc_fast(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ROC AUC per row of ``p`` (rows = resamples) for labels ``y`` (same shape)."""
    r = rankdata(p, axis=-1)
    n1 = y.sum(axis=-1)
    n0 = y.shape[-1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((r * y).sum(axis=-1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def bootstrap_auc(y: np.ndarray, p: np.ndarray, n_boot: int = 10_000, seed: int = 0
                  ) -> tuple[float, float, float]:
    """AUC and its 95 % percentile bootstrap CI (all NaN when only one class is present)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if len(np.unique(y)) < 2:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    boots = auc_fast(y[idx], p[idx])
    boots = boots[np.isfinite(boots)]
    return float(auc_fast(y, p)), float(np.percentile(boots, 2.5)), float(
        np.percentile(boots, 97.5))


@dataclass(frozen=True)
class CohortResult:
    name: str
    n: int
    n_alt: int
    auc: float
    ci_low: float
    ci_high: float
    ood_flagged: int


def evaluate(name: str, y: np.ndarray, prob: np.ndarray, ood_flags: np.ndarray
             ) -> CohortResult:
    auc, lo, hi = bootstrap_auc(y, prob)
    return CohortResult(name, len(y), int(np.sum(y)), auc, lo, hi, int(np.sum(ood_flags)))


def render(bundle: Bundle, results: dict[str, list[CohortResult]], reproduce: str,
           notes: str = "") -> str:
    """Markdown model card. ``results`` maps model kind → per-cohort results."""
    m = bundle.manifest
    cv = m.cv
    lines = [
        f"# Model card: {m.model_id} (version {m.version})", "",
        "**Demo model trained on synthetic data only. Not for clinical use.**", "",
        "## What it does",
        "Estimates P(ALT) — atypical lipomatous tumour vs lipoma — from radiomics features "
        "of a T1-weighted MRI lesion mask, as a WORC-style AutoML ensemble (Spaanderman et "
        "al., eClinicalMedicine 2024; Vos et al., BJS 2019). Also reports an "
        "out-of-distribution score and flag (isolation forest on the training features).", "",
        "## Training",
        f"- cohort: synthetic `{m.training_cohort}` profile, n = {m.n_train} "
        f"({m.n_alt} ALT), cohort hash `{m.training_cohort_hash}`",
        f"- features: {len(m.feature_names)} ({m.model_kind.value}), extraction settings hash "
        f"`{m.settings_hash}` (node/radiomics/params/worc_v2.yaml)",
        f"- search: {m.n_workflows} random workflows (config default 1000; reduced for the "
        f"2-core build machine), ranked by inner 5× stratified 80/20 shuffle split AUC; "
        f"ensemble = mean posterior of the top {m.top_k}; seed {m.seed}",
        f"- inner CV AUC: best workflow {cv.get('inner_best_auc', float('nan')):.3f}, "
        f"top-{m.top_k} mean {cv.get('inner_topk_mean_auc', float('nan')):.3f} "
        "(optimistic: used for selection)",
        f"- training masks: {cv.get('training_masks', 'reference')}",
        "- calibration: " + (
            f"Platt map P' = sigmoid({m.calibration['a']:.3f} logit P + {m.calibration['b']:.3f})"
            f", fitted on {m.calibration['fitted_on']} (n = {m.calibration['n']}); every "
            "P(ALT) below and in the node is the calibrated value"
            if m.calibration else "none (raw ensemble posterior)"),
        f"- threshold {m.threshold}; OOD threshold {m.ood_threshold:.4f} (99th percentile "
        "of training scores)", "",
        "## Cross-validation (training cohort)",
    ]
    if "auc_mean" in cv:
        lines.append(
            f"Outer {cv['outer_repeats']} stratified 80/20 partitions (folds of repeated 5-fold "
            "CV, so every case is tested once per repeat of 5), the whole AutoML "
            f"({cv['outer_workflows']} workflows per repeat) run inside each training part: "
            f"**AUC {cv['auc_mean']:.3f} (95 % CI {cv['auc_ci_low']:.3f}–"
            f"{cv['auc_ci_high']:.3f})**, corrected resampled t-test (Nadeau–Bengio). "
            "The paper uses 100 repeats and 1000 workflows.")
    else:
        lines.append("Not run for this bundle (cv_repeats = 0).")
    lines += ["", "## Synthetic external / prospective profiles",
              "AUC with 95 % bootstrap CI (10,000 resamples of the test predictions).", "",
              "| model | cohort | n (ALT) | AUC | 95 % CI | OOD flagged |",
              "|---|---|---|---|---|---|"]
    for kind, rows in results.items():
        for r in rows:
            lines.append(f"| {kind} | {r.name} | {r.n} ({r.n_alt}) | {r.auc:.3f} | "
                         f"{r.ci_low:.3f}–{r.ci_high:.3f} | {r.ood_flagged} |")
    lines += ["", "## Limitations",
              "- Synthetic digital-twin data (node/synthetic): numbers say the pipeline works, "
              "not how a model performs on patients. For real use train on real data or drop "
              "in a bundle trained elsewhere with the same settings hash.",
              "- Fewer workflows than WORC's 1000 (see above).",
              *([f"- {n}" for n in notes.splitlines() if n.strip()]), "",
              "## Packages", *[f"- {k} {v}" for k, v in m.package_versions.items()], "",
              "## Reproduce", "```", reproduce.strip(), "```", ""]
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    Path(path).write_text(text)
