"""``lipo-node evaluate workflow`` and ``evaluate multi-sequence`` on a tiny synthetic cohort.

One module-scoped cohort: synthetic ``external_a`` cases with their other sequences, split
into a 6-case ``train`` (3 ALT) and a 2-case ``external_a`` (1 ALT). On an idle 2-core machine
each test takes one to three minutes; the timeout allows for a shared one. The workflow test runs the
installed demo segmentation, QC, interactive model, radiomics and demo bundles; the
multi-sequence test trains tiny T1 / multi-sequence bundles with a light parameter file and a
short elastix schedule so it fits in CI time.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from cohort_helpers import LIGHT_PARAMS, split_profiles

from node.cli import main
from node.radiomics.register import load_registration
from node.synthetic.sequences import add_sequences


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wf")
    profiles = split_profiles(root, "external_a", 12, 128, {"train": (0, 3), "external_a": (3, 4)})
    for folder in profiles.values():
        add_sequences(folder, max_matrix=128)
    return root


@pytest.mark.timeout(1800)
def test_workflow_command_reports_truth_and_workflow_masks(cohorts: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "wf"
    from node.classify.bundle import DEMO_BUNDLE

    rc = main(["evaluate", "workflow", "--profile", "external_a", "--cohorts", str(cohorts),
               "--out", str(out), "--n-boot", "200", "--cache", str(tmp_path / "cache"),
               "--bundle", f"radiomics_reference={DEMO_BUNDLE}"])
    assert rc == 0, capsys.readouterr().err
    # the workflow masks' features are kept, so other bundles can be scored on them later
    feats = pd.read_csv(out / "external_a" / "features_workflow.csv", index_col="Patient")
    assert len(feats) == 2 and feats.shape[1] > 100
    # a bundle under a new name is scored beside the installed ones, not instead of them
    ref = pd.read_csv(out / "external_a" / "predictions_radiomics_reference_workflow.csv")
    own = pd.read_csv(out / "external_a" / "predictions_radiomics_workflow.csv")
    assert len(ref) == len(own) == 2
    with (out / "external_a" / "cases.csv").open() as fh:
        cases = list(csv.DictReader(fh))
    assert len(cases) == 2
    for c in cases:
        assert c["method"] in ("auto", "interactive", "manual")
        assert (c["method"] == "auto") == (c["qc_status"] == "pass")
        assert 0.0 <= float(c["dice_auto"]) <= 1.0
        if c["method"] == "manual":
            assert float(c["dice_final"]) == 1.0
    for name in ("radiomics_truth", "radiomics_workflow", "clinical"):
        assert (out / "external_a" / f"predictions_{name}.csv").is_file()
    md = (out / "report.md").read_text()
    for section in ("Segmentation quality and workflow paths", "Workflow-mask vs truth-mask AUC",
                    "## Calibration", "## Subgroups", "radiomics_workflow"):
        assert section in md
    assert (out / "calibration.png").is_file()
    rows = {r["model"]: r for r in json.loads((out / "results.json").read_text())[0]["rows"]}
    assert {"radiomics_truth", "radiomics_workflow", "radiomics_reference_workflow"} <= set(rows)
    assert "| external_a | radiomics_reference |" in md


@pytest.mark.timeout(1800)
def test_multi_sequence_command_compares_t1_with_all_sequences(cohorts: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture
                                                               ) -> None:
    params = tmp_path / "light.yaml"
    params.write_text(LIGHT_PARAMS)
    reg = load_registration()
    regdir = tmp_path / "reg"
    regdir.mkdir()
    for f in reg.stage_files():
        (regdir / f.name).write_text(f.read_text().replace(
            "(MaximumNumberOfIterations 250)", "(MaximumNumberOfIterations 60)"))
    (regdir / "registration_v1.yaml").write_text(
        (reg.folder / "registration_v1.yaml").read_text())
    out = tmp_path / "ms"
    rc = main(["evaluate", "multi-sequence", "--cohorts", str(cohorts), "--out", str(out),
               "--n-workflows", "8", "--top-k", "3", "--n-boot", "200", "--params", str(params),
               "--registration", str(regdir / "registration_v1.yaml")])
    assert rc == 0, capsys.readouterr().err
    reg_rows = list(csv.DictReader((out / "registration.csv").open()))
    used = [r for r in reg_rows if r["used"] == "True"]
    assert used, "no sequence was registered"
    assert all(float(r["registration_s"]) > 0 for r in used)
    summary = json.loads((out / "registration.json").read_text())
    assert set(summary) == {"t1fs", "t1gd", "t2"}
    md = (out / "report.md").read_text()
    assert "Registration: T1 mask carried onto the other sequences" in md
    assert (out / "external_a" / "predictions_t1.csv").is_file()
    assert (out / "external_a" / "predictions_multi_sequence.csv").is_file()
    rows = {r["model"]: r for r in json.loads((out / "results.json").read_text())[0]["rows"]}
    assert set(rows) == {"t1", "multi_sequence"} and rows["multi_sequence"]["delong"] is not None
    assert (out / "bundles" / "multi_sequence" / "manifest.json").is_file()
