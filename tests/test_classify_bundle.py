"""Model bundle: trained from a phantom cohort through the CLI, saved, reloaded, refusing
features from other settings and other package versions, flagging out-of-distribution
cases; clinical, volume and combined models from the same code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk  # noqa: N813

sys.path.insert(0, str(Path(__file__).resolve().parent))
from radiomics_helpers import ellipsoid_case, write_phantom_cohort

from node.classify import Label, ModelKind, load_bundle
from node.classify.config import ClassifyConfig
from node.classify.data import ClinicalEncoder
from node.classify.train import cohort_matrix, train_bundle
from node.errors import ModelBundleMismatch
from node.radiomics import FeatureVector, extract, load_settings
from node.radiomics.cohort import extract_cohort, read_features_csv, write_features_csv

REPO = Path(__file__).resolve().parents[1]
CLI = str(REPO / ".venv" / "bin" / "lipo-node")
SMALL = ClassifyConfig(n_workflows=6, top_k=3, n_splits=2, seed=0)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = write_phantom_cohort(tmp_path_factory.mktemp("cohort") / "phantoms", 12, seed=2)
    settings = load_settings()
    cache = root.parent / "cache"
    feats = extract_cohort(root, settings, n_jobs=2, cache_dir=cache, progress=False)
    write_features_csv(feats, root / "features.csv", settings.settings_hash)
    return root, feats


def test_cohort_features_are_cached_per_settings_hash(cohort, tmp_path: Path) -> None:
    root, feats = cohort
    settings = load_settings()
    cache = root.parent / "cache" / settings.settings_hash
    assert len(list(cache.glob("*.json"))) == 12
    again = extract_cohort(root, settings, n_jobs=1, cache_dir=root.parent / "cache",
                           progress=False)
    pd.testing.assert_frame_equal(again, feats)
    back, sh = read_features_csv(root / "features.csv")
    assert sh == settings.settings_hash and list(back.index) == list(feats.index)
    np.testing.assert_allclose(back.to_numpy(), feats.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind", list(ModelKind))
def test_each_model_kind_trains_and_predicts(cohort, kind: ModelKind) -> None:
    root, feats = cohort
    X, y, enc, labels = cohort_matrix(root, kind, feats)
    if kind is ModelKind.VOLUME:
        assert list(X.columns) == ["volume_ml"]
    if kind is ModelKind.CLINICAL:
        assert all(c.startswith("clinical_") for c in X.columns)
    b = train_bundle(X, y, kind, enc, SMALL, settings_hash=load_settings().settings_hash,
                     cohort_name="phantoms", model_id=f"t-{kind.value}", version="0")
    fv = None if kind is ModelKind.CLINICAL else FeatureVector(
        tuple(feats.columns), tuple(feats.iloc[0]), load_settings().settings_hash)
    clin = labels.iloc[0][["age", "sex", "location", "depth"]].to_dict()
    pred = b.predict(fv, clin)
    assert 0.0 <= pred.alt_probability <= 1.0
    assert pred.label in (Label.ALT, Label.LIPOMA)
    assert b.manifest.top_k <= 3 and b.manifest.cv["inner_best_auc"] is not None


def test_cli_train_classify_and_refuse_other_settings(cohort, tmp_path: Path) -> None:
    root, _ = cohort
    bundle = tmp_path / "bundle"
    r = subprocess.run([CLI, "train-classifier", str(root), "--out", str(bundle),
                        "--n-workflows", "6", "--top-k", "3", "--n-jobs", "1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["settings_hash"] == load_settings().settings_hash
    assert manifest["feature_names"][0].startswith("original_")
    img = root / "P000" / "image.nii.gz"
    seg = root / "P000" / "segmentation.nii.gz"
    r = subprocess.run([CLI, "classify", str(img), str(seg), "--bundle", str(bundle)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["label"] in ("alt", "lipoma") and out["model_id"] == "lipo-radiomics"
    # the same case extracted with another bin count must be refused
    other = tmp_path / "bin32.yaml"
    other.write_text((REPO / "node/radiomics/params/worc_v2.yaml").read_text()
                     .replace("binCount: 16", "binCount: 32"))
    r = subprocess.run([CLI, "classify", str(img), str(seg), "--bundle", str(bundle),
                        "--params", str(other)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "model_bundle_mismatch" in r.stderr
    # predictions CSV for a cohort
    pred_csv = tmp_path / "pred.csv"
    r = subprocess.run([CLI, "classify-cohort", str(root), "--bundle", str(bundle), "--out",
                        str(pred_csv)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(pred_csv)
    assert list(df.columns[:3]) == ["Patient", "label", "prob"] and len(df) == 12


@pytest.fixture(scope="module")
def radiomics_bundle(cohort):
    root, feats = cohort
    X, y, enc, _ = cohort_matrix(root, ModelKind.RADIOMICS, feats)
    return X, train_bundle(X, y, ModelKind.RADIOMICS, enc, SMALL,
                           settings_hash=load_settings().settings_hash,
                           cohort_name="phantoms", model_id="t", version="0")


def test_reloaded_bundle_predicts_identically_and_checks_versions(cohort, radiomics_bundle,
                                                                 tmp_path: Path) -> None:
    _, feats = cohort
    X, b = radiomics_bundle
    b.save(tmp_path / "b")
    loaded = load_bundle(tmp_path / "b")
    p0, _ = b.predict_rows(X.to_numpy())
    p1, _ = loaded.predict_rows(X.to_numpy())
    np.testing.assert_array_equal(p0, p1)
    fv = FeatureVector(tuple(feats.columns), tuple(feats.iloc[1]), "0123456789abcdef")
    with pytest.raises(ModelBundleMismatch, match="settings"):
        loaded.predict(fv, None)
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    m["package_versions"]["scikit-learn"] = "0.24.2"
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelBundleMismatch, match="scikit-learn"):
        load_bundle(tmp_path / "b")


def test_ood_flags_a_case_unlike_the_training_cohort(radiomics_bundle) -> None:
    settings = load_settings()
    _, b = radiomics_bundle
    like = b.predict(extract(*ellipsoid_case(999, alt=False), settings), None)
    # a lesion 5x wider with 8-pixel checkerboard texture on isotropic voxels
    arr = np.full((40, 96, 96), 100.0, dtype=np.float32)
    zz, yy, xx = np.mgrid[:40, :96, :96]
    m = (((xx - 48) / 45.0) ** 2 + ((yy - 48) / 45.0) ** 2 + ((zz - 20) / 18.0) ** 2) < 1
    arr[m] = np.where(((xx // 8 + yy // 8 + zz // 8) % 2 == 0), 900.0, 20.0)[m]
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((1.0, 1.0, 1.0))
    msk = sitk.GetImageFromArray(m.astype(np.uint8))
    msk.CopyInformation(img)
    odd = b.predict(extract(img, msk, settings), None)
    assert odd.ood_score > like.ood_score
    assert odd.ood_flag and not like.ood_flag


def test_clinical_encoder_handles_unknown_and_missing() -> None:
    enc = ClinicalEncoder(locations=("arm", "thigh"))
    e = enc.encode({"age": 70, "sex": "F", "location": "thigh", "depth": "deep"})
    assert e == {"clinical_age": 70.0, "clinical_sex_male": 0.0, "clinical_depth_deep": 1.0,
                 "clinical_location_arm": 0.0, "clinical_location_thigh": 1.0}
    e = enc.encode({"location": "foot"})
    assert np.isnan(e["clinical_age"]) and e["clinical_location_thigh"] == 0.0
