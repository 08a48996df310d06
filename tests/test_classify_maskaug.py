"""Mask-robust training (issue 16): perturbed masks, patient-grouped splits, calibrated bundles.

The unit tests are fast; the last one runs ``python -m node.classify.demo`` with perturbed
training masks, perturbed-mask evaluation and calibration on a tiny synthetic cohort with a
light parameter file (about a minute on an idle 2-core machine).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cohort_helpers import LIGHT_PARAMS, split_profiles

from node.classify import maskaug
from node.classify.bundle import load_bundle, platt_apply
from node.classify.config import ClassifyConfig
from node.classify.ensemble import patient_splits
from node.classify.train import cross_validate


def _blob() -> tuple[np.ndarray, np.ndarray]:
    """A bright ellipsoid 'tumour' in a darker body, with a bright 'fat' layer beside it."""
    z, y, x = np.mgrid[:12, :40, :40]
    mask = (((z - 6) / 4.5) ** 2 + ((y - 20) / 9) ** 2 + ((x - 18) / 8) ** 2 < 1).astype(np.uint8)
    img = np.full(mask.shape, 300.0, np.float32)
    img[mask > 0] = 1000.0
    img[:, :, 26:31] = 1000.0          # adjacent fat, touching the tumour's right edge
    img[mask > 0] += np.where((y[mask > 0] + x[mask > 0]) % 7 == 0, -700, 0)
    return img, mask


def test_each_perturbation_changes_the_mask_the_way_its_name_says() -> None:
    img, mask = _blob()
    v = int(mask.sum())
    assert maskaug.dilate(mask, 2).sum() > v and maskaug.erode(mask, 1).sum() < v
    assert maskaug.dilate(mask, 3).sum() > maskaug.dilate(mask, 1).sum()
    leak = maskaug.fat_leak(img, mask, 6)
    grown = (leak > 0) & (mask == 0)
    assert grown.any() and np.all(img[grown] >= 0.8 * np.median(img[mask > 0]))  # only into fat
    rng = np.random.default_rng(0)
    lobe = maskaug.drop_lobe(mask, 0.2, rng, (4.0, 1.0, 1.0))
    assert 0.7 * v < lobe.sum() < 0.9 * v and not (lobe & ~mask.astype(bool)).any()
    ends = maskaug.drop_end_slices(mask, rng)
    assert ends.sum() < v
    nod = maskaug.drop_nodules(img, mask, 3)
    assert nod.sum() < v and np.all(img[(mask > 0) & (nod == 0)] < 1000)


def test_perturb_is_deterministic_never_empty_and_mostly_plausible() -> None:
    img, mask = _blob()
    a = maskaug.perturb(img, mask, (4.0, 1.0, 1.0), np.random.default_rng([3, 1]))
    b = maskaug.perturb(img, mask, (4.0, 1.0, 1.0), np.random.default_rng([3, 1]))
    assert np.array_equal(a.mask, b.mask) and a.steps == b.steps
    dices = []
    for s in range(40):
        pm = maskaug.perturb(img, mask, (4.0, 1.0, 1.0), np.random.default_rng(s))
        assert pm.mask.sum() > 0 and 1 <= len(pm.steps) <= 4
        dices.append(maskaug.dice(pm.mask, mask))
    # like automatic masks: mostly Sufficient or better, some worse, never the truth every time
    assert 0.6 < np.median(dices) < 0.99 and min(dices) < 0.85


def test_patient_splits_keep_a_cases_copies_on_one_side() -> None:
    patients = np.array([f"p{i}" for i in range(20)] * 3)
    y = np.array([i % 2 for i in range(20)] * 3)
    for tr, te in patient_splits(y, patients, 5, 0.2, seed=1):
        assert not set(patients[tr]) & set(patients[te])
        assert len(set(patients[te])) == 4 and set(y[te]) == {0, 1}
    # without patients the splits are the plain stratified shuffle splits of before
    plain = patient_splits(y, None, 3, 0.2, seed=1)
    assert len(plain) == 3 and all(len(te) == 12 for _, te in plain)


def test_grouped_outer_cv_scores_only_reference_rows_of_unseen_patients() -> None:
    rng = np.random.default_rng(0)
    n = 30
    y = np.array([0, 1] * (n // 2))
    base = rng.normal(size=(n, 4)) + y[:, None]
    copies = base + rng.normal(scale=0.1, size=base.shape)
    X = pd.DataFrame(np.vstack([base, copies]),
                     columns=[f"original_firstorder_F{i}" for i in range(4)])
    yy = np.concatenate([y, y])
    patients = np.array([f"p{i}" for i in range(n)] * 2)
    score = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    cfg = ClassifyConfig(n_workflows=3, top_k=2, seed=0)
    summary, oof = cross_validate(X, yy, cfg, repeats=2, n_workflows=3, progress=False,
                                  patients=patients, score_rows=score)
    assert summary["outer_repeats"] == 2 and 0.5 < summary["auc_mean"] <= 1.0
    # a patient's reference row and copy are tested in the same partitions
    assert np.array_equal(np.isfinite(oof[:n]), np.isfinite(oof[n:]))


def test_platt_map_is_monotone_and_moves_probabilities() -> None:
    p = np.linspace(0.01, 0.99, 50)
    q = platt_apply(p, 0.5, -0.3)
    assert np.all(np.diff(q) > 0) and not np.allclose(p, q)
    assert np.allclose(platt_apply(p, 1.0, 0.0), p, atol=1e-9)




@pytest.mark.timeout(1200)
def test_demo_trains_on_perturbed_masks_and_ships_a_calibrated_bundle(tmp_path: Path) -> None:
    from node.classify import demo

    split_profiles(tmp_path, "train", 18, 96, {"train": (0, 5), "external_a": (5, 6)})
    params = tmp_path / "light.yaml"
    params.write_text(LIGHT_PARAMS)
    out = tmp_path / "bundle" / "classifier"
    rc = demo.main(["--cohorts", str(tmp_path), "--out", str(out), "--cache",
                    str(tmp_path / "cache"), "--params", str(params), "--n-workflows", "4",
                    "--top-k", "2", "--cv-repeats", "2", "--cv-workflows", "2", "--n-jobs", "1",
                    "--kinds", "radiomics", "--profiles", "train", "external_a",
                    "--mask-copies", "2", "--eval-perturbed", "1", "--calibrate"])
    assert rc == 0
    b = load_bundle(out)
    m = b.manifest
    assert m.n_train == 10 and m.n_alt == 5            # cases, not rows
    assert m.cv["training_masks"].startswith("reference + 2 perturbed")
    # fitted on every out-of-fold row: reference + 2 copies of each tested case (2 of 5 folds)
    assert m.calibration is not None and m.calibration["n"] == 3 * 4
    info = pd.read_csv(tmp_path / "external_a" / "perturbed_masks.csv")
    assert len(info) == 2 and info["dice"].between(0, 1).all()
    pert = pd.read_csv(tmp_path / "external_a" / "predictions_radiomics_perturbed.csv")
    assert len(pert) == 2 and pert["prob"].between(0, 1).all()
    card = (out / "MODEL_CARD.md").read_text()
    assert "external_a (perturbed masks)" in card and "Platt map" in card
    assert "--mask-copies 2" in card
    oof = pd.read_csv(tmp_path / "train" / "predictions_radiomics.csv")
    assert len(oof) == 10                               # one out-of-fold row per case
    assert json.loads((out / "manifest.json").read_text())["calibration"]["method"] == "platt"
    # --score-only: the same bundle scores a profile again without retraining
    before = (out / "model.joblib").stat().st_mtime_ns
    (tmp_path / "external_a" / "predictions_radiomics.csv").unlink()
    rc = demo.main(["--cohorts", str(tmp_path), "--out", str(out), "--cache",
                    str(tmp_path / "cache"), "--params", str(params), "--n-jobs", "1",
                    "--kinds", "radiomics", "--profiles", "train", "external_a",
                    "--eval-perturbed", "1", "--score-only"])
    assert rc == 0 and (out / "model.joblib").stat().st_mtime_ns == before
    again = pd.read_csv(tmp_path / "external_a" / "predictions_radiomics.csv")
    assert len(again) == 2 and again["prob"].between(0, 1).all()
