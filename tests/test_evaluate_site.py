"""``lipo-node evaluate site``: the installed pipeline on a local labelled cohort, end to end.

The cohort is a small phantom set in WORC layout (bright ellipsoids, ALT larger and more
heterogeneous); the classifier bundle is trained here with node.classify on features from
node.radiomics, so the run goes through the real feature extractor and bundle code.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.cli import main
from node.config import load_config
from node.evaluate.site import SiteCohortError, SiteOptions, run_site
from node.segment.config import DEMO_MODEL_DIR


def _phantom_cohort(root: Path, n: int = 12) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    z, y, x = np.mgrid[:16, :40, :40]
    for i in range(n):
        alt = i % 2
        r = 6 + 3 * alt + rng.random()
        # three distinct semi-axes: exact spheres make pyradiomics' shape eigenvalues complex
        m = ((x - 20) / r) ** 2 + ((y - 20) / (0.75 * r)) ** 2 + ((z - 8) * 2.5 / (0.6 * r)) ** 2 < 1
        img = rng.normal(100, 10, m.shape) + m * (200 + alt * rng.normal(0, 40, m.shape))
        im = sitk.GetImageFromArray(img.astype(np.float32))
        im.SetSpacing((1.0, 1.0, 2.5))
        ms = sitk.GetImageFromArray(m.astype(np.uint8))
        ms.CopyInformation(im)
        d = root / f"site-{i:03d}"
        d.mkdir(parents=True)
        sitk.WriteImage(im, str(d / "image.nii.gz"))
        sitk.WriteImage(ms, str(d / "segmentation.nii.gz"))
        rows.append((d.name, "alt" if alt else "lipoma", 50 + i, "M" if i % 3 else "F",
                     "thigh", "deep"))
    with (root / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Patient", "label", "age", "sex", "location", "depth"])
        w.writerows(rows)
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path, dict[str, float]]:
    from node.classify.config import ClassifyConfig
    from node.classify.data import ModelKind
    from node.classify.train import cohort_matrix, train_bundle
    from node.radiomics.cohort import extract_cohort
    from node.radiomics.settings import load_settings

    root = _phantom_cohort(tmp_path_factory.mktemp("site") / "hospital_x")
    settings = load_settings()
    feats = extract_cohort(root, settings)
    X, y, enc, _ = cohort_matrix(root, ModelKind.RADIOMICS, feats)
    cfg = ClassifyConfig(n_workflows=4, top_k=2, seed=0, n_jobs=1, cv_repeats=0)
    bundle = train_bundle(X, y, ModelKind.RADIOMICS, enc, cfg,
                          settings_hash=settings.settings_hash, cohort_name="phantom",
                          model_id="test-radiomics", version="0", progress=False)
    bdir = bundle.save(tmp_path_factory.mktemp("bundle") / "radiomics")
    batch, _ = bundle.predict_rows(X.reindex(columns=bundle.manifest.feature_names)
                                   .to_numpy(dtype=float))
    return root, bdir, dict(zip(X.index, batch, strict=True))


def test_site_run_with_reference_masks_writes_the_report(site, tmp_path):
    cohort, bundle, batch = site
    (cohort / "site-099").mkdir(exist_ok=True)  # labelled? no -> not a case
    out = tmp_path / "acceptance"
    rc = main(["evaluate", "site", "--cohort", str(cohort), "--out", str(out), "--truth-masks",
               "--bundle", f"radiomics={bundle}", "--n-boot", "200"])
    assert rc == 0
    with (out / "predictions_radiomics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 and all(0.0 <= float(r["prob"]) <= 1.0 for r in rows)
    # the per-case site path gives what the batch (cohort) path of node.classify gives
    for r in rows:
        assert float(r["prob"]) == pytest.approx(batch[r["Patient"]], abs=1e-6)
    md = (out / "report.md").read_text()
    assert "Site acceptance: hospital_x" in md and "| radiomics |" in md
    assert "12 cases (worc layout), 0 failed" in md
    assert (out / "roc.png").stat().st_size > 1000 and (out / "roc.svg").is_file()


def test_a_broken_case_is_listed_not_lost(site, tmp_path):
    cohort, bundle, _ = site
    broken = tmp_path / "cohort"
    broken.mkdir()
    for case in sorted(p for p in cohort.iterdir() if p.is_dir() and p.name != "site-099"):
        (broken / case.name).mkdir()
        for f in case.iterdir():
            (broken / case.name / f.name).write_bytes(f.read_bytes())
    (broken / "labels.csv").write_text((cohort / "labels.csv").read_text())
    (broken / "site-003" / "image.nii.gz").write_bytes(b"not a nifti")
    rep = run_site(broken, tmp_path / "out", load_config(None),
                   SiteOptions(use_truth_masks=True, n_boot=200, bundles={"radiomics": bundle}))
    failures = (tmp_path / "out" / "failures.csv").read_text()
    assert "site-003" in failures
    assert "12 cases (worc layout), 1 failed" in rep.markdown.read_text()
    with (tmp_path / "out" / "predictions_radiomics.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 11


def test_failures_that_leave_one_class_get_a_clear_error_and_keep_the_csvs(site, tmp_path):
    """Every ALT case fails (its mask is empty): the run must say why there is no AUC, not
    crash in the metric, and keep what it scored."""
    cohort, bundle, _ = site
    one = tmp_path / "cohort"
    for case in ("site-000", "site-001", "site-002", "site-003"):
        (one / case).mkdir(parents=True)
        for f in (cohort / case).iterdir():
            (one / case / f.name).write_bytes(f.read_bytes())
    (one / "labels.csv").write_text((cohort / "labels.csv").read_text())
    for alt in ("site-001", "site-003"):
        seg = sitk.ReadImage(str(one / alt / "segmentation.nii.gz"))
        sitk.WriteImage(seg * 0, str(one / alt / "segmentation.nii.gz"))
    out = tmp_path / "out"
    with pytest.raises(SiteCohortError, match=r"all lipoma; an AUC needs both classes \(2 failed"):
        run_site(one, out, load_config(None),
                 SiteOptions(use_truth_masks=True, n_boot=200, bundles={"radiomics": bundle}))
    with (out / "predictions_radiomics.csv").open() as fh:
        assert {r["Patient"] for r in csv.DictReader(fh)} == {"site-000", "site-002"}
    assert "site-001" in (out / "failures.csv").read_text()


def test_cohort_without_labels_is_refused(tmp_path):
    with pytest.raises(SiteCohortError, match=r"labels\.csv"):
        run_site(tmp_path, tmp_path / "o", load_config(None), SiteOptions())


@pytest.mark.skipif(not (DEMO_MODEL_DIR / "plans.json").is_file(),
                    reason="demo nnU-Net model (node/models/demo/seg) not present yet")
def test_site_run_with_automatic_segmentation_accounts_for_every_case(site, tmp_path):
    """nnU-Net on the phantoms: every case ends up scored or listed as failed, and each
    segmented case is scored against its reference mask."""
    cohort, bundle, _ = site
    out = tmp_path / "auto"
    try:
        run_site(cohort, out, load_config(None),
                 SiteOptions(limit=2, n_boot=200, bundles={"radiomics": bundle}))
    except SiteCohortError:
        pass  # every case failed: still each one must be listed
    with (out / "failures.csv").open() as fh:
        failed = {r["Patient"] for r in csv.DictReader(fh)}
    pred_file = out / "predictions_radiomics.csv"
    scored = set()
    if pred_file.is_file():
        with pred_file.open() as fh:
            scored = {r["Patient"] for r in csv.DictReader(fh)}
    assert scored | failed == {"site-000", "site-001"} and not scored & failed
    if (out / "segmentation.csv").is_file():
        with (out / "segmentation.csv").open() as fh:
            for r in csv.DictReader(fh):
                assert 0.0 <= float(r["dice"]) <= 1.0
