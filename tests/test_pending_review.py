"""Issue 14 safety rule: a case QC routes to review gets a "result pending review" notice in a
real Orthanc (SR or Secondary Capture, valid for dciodvfy), and no P(ALT) leaves the node for a
mask that neither passed QC nor was accepted by a reviewer."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813
from peers import Orthanc
from report_helpers import dciodvfy

from node.config import load_config
from node.jobs.model import JobResult
from node.jobs.pipeline import JobContext
from node.qc.gate import MaskNotCleared, assert_deliverable
from node.qc.stage import QcFailed, qc_stage
from node.report.pending import TITLE
from node.report.stage import report_stage
from node.segment.geometry import read_series, to_sitk

SAG = "3_t1_fl2d_sag"


def _failing_job(tmp_path: Path, study: Path, orthanc: Orthanc | None, notice: str) -> JobContext:
    """A job whose automatic mask is empty (QC: empty_mask), the selected series from ``study``."""
    folder = study / SAG
    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    volume = read_series(datasets)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    sitk.WriteImage(to_sitk(np.zeros(volume.geometry.shape, np.uint8), volume.geometry),
                    str(job_dir / "mask.nii.gz"))
    (job_dir / "segment.json").write_text(json.dumps({"model_id": "demo@1", "agreement": None}))
    send = {}
    if orthanc is not None:
        send = {"destinations": [{"kind": "dicom", "name": "pacs", "host": "127.0.0.1",
                                  "port": orthanc.dicom_port, "ae_title": orthanc.aet, "timeout_s": 5}]}
    cfg = load_config(None, data_dir=str(tmp_path / "var"), send=send,
                      qc={"pending_notice": notice, "interactive_check": False})
    result = JobResult(job_id="job-1", study_uid=datasets[0].StudyInstanceUID,
                       series_uid=datasets[0].SeriesInstanceUID, source_dir=str(folder),
                       volume_ml=0.0, alt_probability=0.7, label="alt")
    return JobContext("job-1", job_dir, cfg, result)


def _orthanc_instances(o: Orthanc) -> list[pydicom.Dataset]:
    with o.client() as c:
        return [pydicom.dcmread(io.BytesIO(c.get(f"/instances/{i}/file").content))
                for i in c.get("/instances").json()]


@pytest.mark.parametrize(("notice", "modality"), [("sr", "SR"), ("sc", "OT")])
def test_qc_failure_sends_a_valid_pending_review_notice_and_no_probability(
    tmp_path: Path, siemens_study: Path, orthanc: Orthanc, notice: str, modality: str
) -> None:
    ctx = _failing_job(tmp_path, siemens_study, orthanc, notice)
    with pytest.raises(QcFailed):
        qc_stage(ctx)
    assert ctx.result.qc.status == "fail" and "empty_mask" in ctx.result.qc.reason_codes
    local = ctx.job_dir / ctx.result.artefacts["pending_review"]
    check = dciodvfy(local)
    assert check.errors == [], check.errors
    at_pacs = _orthanc_instances(orthanc)
    assert len(at_pacs) == 1
    ds = at_pacs[0]
    assert ds.Modality == modality and ds.SeriesDescription == TITLE
    assert ds.StudyInstanceUID == ctx.result.study_uid
    assert ds.SOPInstanceUID == pydicom.dcmread(local).SOPInstanceUID
    if notice == "sr":
        text = ds.ContentSequence[0].TextValue
        assert "pending review" in text.lower() and "empty_mask" in text
        assert ds.CompletionFlag == "PARTIAL" and ds.VerificationFlag == "UNVERIFIED"
    # the safety rule: the report stage refuses to build an SR with P(ALT) for this job
    with pytest.raises(MaskNotCleared):
        report_stage(ctx)
    assert "sr" not in ctx.result.artefacts
    assert len(_orthanc_instances(orthanc)) == 1


def test_rerunning_qc_resends_the_same_notice(tmp_path: Path, siemens_study: Path, orthanc: Orthanc) -> None:
    ctx = _failing_job(tmp_path, siemens_study, orthanc, "sr")
    for _ in range(2):
        with pytest.raises(QcFailed):
            qc_stage(ctx)
    assert len(_orthanc_instances(orthanc)) == 1


def test_notice_off_writes_nothing(tmp_path: Path, siemens_study: Path) -> None:
    ctx = _failing_job(tmp_path, siemens_study, None, "off")
    with pytest.raises(QcFailed):
        qc_stage(ctx)
    assert "pending_review" not in ctx.result.artefacts


@pytest.mark.parametrize(("qc", "method", "score", "ok"), [
    ("pass", "automatic", None, True),
    ("fail", "automatic", None, False),
    (None, "automatic", None, False),            # QC never ran: not cleared
    ("fail", "automatic", "sufficient", True),   # reviewer accepted the automatic mask
    ("fail", "automatic", "incorrect", False),   # reviewer rejected it but did not correct it
    ("fail", "interactive", "incorrect", True),  # reviewer made a new mask
    ("fail", "manual", "insufficient", True),
])
def test_probability_is_deliverable_only_after_qc_pass_or_review(
    qc: str | None, method: str, score: str | None, ok: bool
) -> None:
    r = JobResult(job_id="j", study_uid="1.2.3", seg_method=method, quality_score=score)
    r.qc.status = qc
    if ok:
        assert_deliverable(r)
    else:
        with pytest.raises(MaskNotCleared):
            assert_deliverable(r)
