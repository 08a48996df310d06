"""The radiomics stage with ``classify.model: multi_sequence`` on a synthetic multi-series study.

The stage finds the study's other sequences from their DICOM physics, registers the T1 onto
each with elastix, carries the job's mask over and writes a multi-sequence feature vector plus
``sequences.json``; the report stage then names those sequences in the SR inputs.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pydicom
import pytest

from node.config import load_config
from node.jobs.model import JobResult
from node.jobs.pipeline import JobContext
from node.radiomics.features import FeatureVector
from node.radiomics.register import load_registration
from node.radiomics.stage import radiomics_stage
from node.report.stage import inputs_from_result
from node.synthetic.study import StudySpec, generate_study

LIGHT = """version: test_light
texture_classes: [firstorder, shape]
log_sigma_mm: []
lbp: null
extra: {orientation: false, gabor: null, vesselness: null, phase: null}
"""


@pytest.mark.timeout(1200)
def test_multi_sequence_stage_uses_the_studys_other_sequences(tmp_path: Path) -> None:
    res = generate_study(tmp_path / "study", StudySpec(seed=21, max_matrix=96))
    roles = {s.role for s in res.series}
    params = tmp_path / "light.yaml"
    params.write_text(LIGHT)
    reg = load_registration()
    for f in reg.stage_files():
        (tmp_path / f.name).write_text(f.read_text().replace(
            "(MaximumNumberOfIterations 250)", "(MaximumNumberOfIterations 60)"))
    shutil.copy(reg.folder / "registration_v1.yaml", tmp_path / "registration_v1.yaml")
    cfg = load_config(None, data_dir=str(tmp_path / "var"),
                      radiomics={"params_file": str(params),
                                 "registration_file": str(tmp_path / "registration_v1.yaml")},
                      classify={"model": "multi_sequence"})
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    shutil.copy(res.mask_path, job_dir / "mask.nii.gz")
    ds = pydicom.dcmread(next(res.t1_series_dir.iterdir()))
    result = JobResult(job_id="j", study_uid=res.study_uid, series_uid=res.t1_series_uid,
                       source_dir=str(res.study_dir), volume_ml=10.0, alt_probability=0.5,
                       label="alt")
    result.qc.status = "pass"
    assert ds.SeriesInstanceUID == res.t1_series_uid
    ctx = JobContext("j", job_dir, cfg, result)
    radiomics_stage(ctx)
    info = json.loads((job_dir / "sequences.json").read_text())
    fv = FeatureVector.from_file(job_dir / "features.json")
    assert fv.settings_hash.startswith("ms-")
    d = fv.as_dict()
    assert info["used"][0] == "T1"
    # the twin's STIR or T2-FS always exists and always covers the tumour
    assert "stir" in roles or "t2_fs" in roles
    assert "T2/T2-FS/STIR" in info["used"]
    assert not math.isnan(d["t2:original_firstorder_Mean"])
    for slot, name in (("t1gd", "T1-GD"), ("t1fs", "T1-FS")):
        assert (name in info["used"]) == (not math.isnan(d[f"{slot}:original_firstorder_Mean"]))
    assert inputs_from_result(ctx).sequences == tuple(info["used"])
