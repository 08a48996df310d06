"""Subgroup AUCs with bootstrap CIs (Spaanderman et al. 2024: weaker in superficial tumours
and in women), from the prediction CSVs and the cohort's ``labels.csv``.

Subgroups: depth (superficial / deep), sex, location, field strength, vendor, and size —
split at the cohort's median volume (small / large), since volume alone already separates ALT
from lipoma and a model could ride on it. A subgroup with fewer than ``min_per_class`` cases
of either class gets its counts but no AUC (one or two ALTs make no ROC curve).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from node.evaluate.resampling import bootstrap_metrics

SUBGROUP_COLUMNS = ("depth", "sex", "location", "field_strength", "vendor", "size")


@dataclass(frozen=True)
class SubgroupAuc:
    cohort: str
    model: str
    variable: str
    value: str
    n: int
    n_alt: int
    auc: float
    low: float
    high: float


def subgroup_values(labels: pd.DataFrame) -> pd.DataFrame:
    """The subgroup columns present in ``labels`` as strings (size from volume_ml)."""
    out = pd.DataFrame(index=labels.index)
    for col in SUBGROUP_COLUMNS:
        if col == "size":
            if "volume_ml" in labels:
                med = float(labels["volume_ml"].median())
                out["size"] = np.where(labels["volume_ml"] <= med, f"<= {med:.0f} ml",
                                       f"> {med:.0f} ml")
        elif col in labels:
            v = labels[col]
            out[col] = (v.map(lambda x: f"{x:g} T") if col == "field_strength"
                        else v.astype(str))
    return out


def subgroup_aucs(cohort: str, model: str, y: pd.Series, prob: pd.Series, labels: pd.DataFrame,
                  n_boot: int = 2000, seed: int = 0, min_per_class: int = 3
                  ) -> list[SubgroupAuc]:
    """AUC [95 % CI] per value of every subgroup variable (``y``/``prob`` indexed by Patient)."""
    groups = subgroup_values(labels.loc[y.index])
    out = []
    for var in groups.columns:
        for val in sorted(groups[var].dropna().unique()):
            sel = groups.index[groups[var] == val]
            yy, pp = y.loc[sel].to_numpy(int), prob.loc[sel].to_numpy(float)
            n_alt = int(yy.sum())
            if n_alt < min_per_class or len(yy) - n_alt < min_per_class:
                out.append(SubgroupAuc(cohort, model, var, str(val), len(yy), n_alt,
                                       math.nan, math.nan, math.nan))
                continue
            m = bootstrap_metrics(yy, pp, pp >= 0.5, n_boot=n_boot, seed=seed)
            out.append(SubgroupAuc(cohort, model, var, str(val), len(yy), n_alt, m.auc.value,
                                   m.auc.low, m.auc.high))
    return out


def subgroups_markdown(rows: list[SubgroupAuc], note: str = "") -> str:
    lines = ["## Subgroups", "",
             "AUC [stratified bootstrap 95 % CI] per subgroup; 'n/a' where a subgroup has fewer "
             "than 3 cases of a class." + (f" {note}" if note else ""), ""]
    cohorts = list(dict.fromkeys((r.cohort, r.model) for r in rows))
    for cohort, model in cohorts:
        lines += [f"**{cohort} — {model}**", "", "| Variable | Value | n (ALT) | AUC [95 % CI] |",
                  "|---|---|---|---|"]
        for r in (r for r in rows if r.cohort == cohort and r.model == model):
            auc = ("n/a" if not math.isfinite(r.auc)
                   else f"{r.auc:.2f} [{r.low:.2f}, {r.high:.2f}]")
            lines.append(f"| {r.variable} | {r.value} | {r.n} ({r.n_alt}) | {auc} |")
        lines.append("")
    return "\n".join(lines)
