"""Calibration (reliability, Brier, Platt), subgroup AUCs and the Dice quality bands."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from node.evaluate.calibration import PlattMap, brier, calibrate, plot_reliability, reliability
from node.evaluate.quality import Quality, quality_counts, quality_of
from node.evaluate.subgroups import subgroup_aucs, subgroups_markdown


def _calibrated(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    return (rng.random(n) < p).astype(int), p


def test_reliability_of_calibrated_probabilities_follows_the_diagonal() -> None:
    y, p = _calibrated(4000)
    bins = reliability(y, p, n_bins=5)
    assert len(bins) == 5 and sum(b.n for b in bins) == 4000
    for b in bins:
        assert b.low <= b.observed <= b.high
        assert abs(b.observed - b.mean_predicted) < 0.05


def test_platt_fitted_elsewhere_repairs_overconfident_probabilities() -> None:
    y_fit, p_fit = _calibrated(3000, seed=1)
    y, p = _calibrated(3000, seed=2)

    def overconfident(q: np.ndarray) -> np.ndarray:   # logit stretched x3
        z = np.log(q / (1 - q)) * 3
        return 1 / (1 + np.exp(-z))

    m = PlattMap.fit(y_fit, overconfident(p_fit))
    assert m.a == pytest.approx(1 / 3, abs=0.06)
    raw = brier(y, overconfident(p))
    fixed = brier(y, m.apply(overconfident(p)))
    assert fixed < raw - 0.01
    cal = calibrate("c", "m", y, overconfident(p), m)
    assert cal.brier == pytest.approx(raw) and cal.brier_calibrated == pytest.approx(fixed)
    assert cal.brier_low <= cal.brier <= cal.brier_high


def test_reliability_plot_is_written(tmp_path) -> None:
    y, p = _calibrated(100)
    png, svg = plot_reliability([calibrate("a", "m", y, p), calibrate("b", "m", y, p)],
                                tmp_path / "cal")
    assert png.stat().st_size > 1000 and svg.is_file()


def test_reliability_plot_with_pure_bins(tmp_path) -> None:
    # every bin all-lipoma or all-ALT: the Wilson bound can land a rounding error past the
    # observed share, which matplotlib refused as a negative error bar (a 30-case workflow run)
    y = np.r_[np.zeros(15, int), np.ones(15, int)]
    p = np.linspace(0.01, 0.99, 30)
    cal = calibrate("c", "m", y, p)
    assert {b.observed for b in cal.bins} <= {0.0, 1.0, 0.5} and len(cal.bins) == 5
    png, _ = plot_reliability([cal], tmp_path / "pure")
    assert png.stat().st_size > 1000


def test_subgroup_auc_per_value_and_none_for_tiny_groups() -> None:
    rng = np.random.default_rng(3)
    n = 120
    idx = [f"p{i}" for i in range(n)]
    y = pd.Series(rng.integers(0, 2, n), index=idx)
    deep = np.arange(n) < 100
    # informative in deep tumours only
    prob = pd.Series(np.where(deep, 0.3 * y + 0.7 * rng.random(n), rng.random(n)), index=idx)
    labels = pd.DataFrame({"depth": np.where(deep, "deep", "superficial"),
                           "sex": ["F"] * 4 + ["M"] * (n - 4),
                           "volume_ml": rng.uniform(10, 500, n)}, index=idx)
    labels.loc[idx[:4], "sex"] = "F"
    y.iloc[:4] = 1   # four women, all ALT: no AUC for them
    rows = {(r.variable, r.value): r for r in subgroup_aucs("c", "m", y, prob, labels,
                                                            n_boot=300)}
    assert rows["depth", "deep"].auc > rows["depth", "superficial"].auc
    assert rows["depth", "deep"].low <= rows["depth", "deep"].auc <= rows["depth", "deep"].high
    assert math.isnan(rows["sex", "F"].auc) and rows["sex", "F"].n == 4
    assert sum(r.n for (v, _), r in rows.items() if v == "size") == n
    assert "n/a" in subgroups_markdown(list(rows.values()))


@pytest.mark.parametrize(("dice", "band"), [(0.91, Quality.EXCELLENT), (0.85, Quality.EXCELLENT),
                                            (0.8, Quality.SUFFICIENT), (0.5, Quality.INSUFFICIENT),
                                            (0.1, Quality.INCORRECT), (float("nan"),
                                                                       Quality.INCORRECT)])
def test_quality_bands(dice: float, band: Quality) -> None:
    assert quality_of(dice) is band


def test_quality_counts_cover_every_band() -> None:
    c = quality_counts([0.9, 0.9, 0.75, 0.2])
    assert c == {Quality.EXCELLENT: 2, Quality.SUFFICIENT: 1, Quality.INSUFFICIENT: 0,
                 Quality.INCORRECT: 1}


def test_profiles_report_gets_calibration_and_subgroups(tmp_path) -> None:
    from node.evaluate.profiles import calibration_and_subgroups

    rng = np.random.default_rng(5)
    for prof, n in (("train", 80), ("external_a", 60)):
        d = tmp_path / prof
        d.mkdir()
        y = rng.integers(0, 2, n)
        z = 2.5 * (y - 0.5) + rng.normal(0, 1, n)
        prob = 1 / (1 + np.exp(-8 * z))   # informative but overconfident (true slope 2.5)
        pats = [f"{prof}-{i:04d}" for i in range(n)]
        lab = np.where(y == 1, "alt", "lipoma")
        pd.DataFrame({"Patient": pats, "label": lab, "prob": prob}).to_csv(
            d / "predictions_radiomics.csv", index=False)
        pd.DataFrame({"Patient": pats, "label": lab, "depth": rng.choice(["deep", "superficial"], n),
                      "sex": rng.choice(["M", "F"], n), "volume_ml": rng.uniform(5, 900, n),
                      "vendor": "siemens", "field_strength": 1.5}).to_csv(d / "labels.csv",
                                                                          index=False)
    md = calibration_and_subgroups(tmp_path, tmp_path / "out", n_boot=200)
    assert "## Calibration" in md and "## Subgroups" in md
    assert "train (out-of-fold)" in md and "superficial" in md
    row = next(line for line in md.splitlines() if line.startswith("| external_a | radiomics"))
    raw, after = float(row.split("|")[4].split()[0]), float(row.split("|")[6])
    assert after < raw    # the train-fitted Platt map tempers the overconfident test P(ALT)
    assert (tmp_path / "out" / "calibration.png").is_file()
