"""The report and send stages inside a job: mask on the series grid → SEG/SR → Orthanc."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from peers import Orthanc
from report_helpers import blob_mask, dciodvfy, dcmqi_mask

from node.config import load_config
from node.errors import DeliveryError, ReportError
from node.jobs.model import JobResult, ModelRef
from node.jobs.pipeline import JobContext
from node.report.stage import report_stage
from node.segment.geometry import read_series, to_sitk
from node.send.stage import send_stage

SAG = "3_t1_fl2d_sag"


def _context(tmp_path: Path, siemens_study: Path, **send: object) -> tuple[JobContext, np.ndarray]:
    folder = siemens_study / SAG
    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    volume = read_series(datasets)
    grid_mask = blob_mask(volume.geometry.shape).astype(np.uint8)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    import SimpleITK as sitk  # noqa: N813

    sitk.WriteImage(to_sitk(grid_mask, volume.geometry), str(job_dir / "mask.nii.gz"))
    cfg = load_config(None, data_dir=str(tmp_path / "var"), send=send)
    result = JobResult(
        job_id="job-1", study_uid=datasets[0].StudyInstanceUID, series_uid=datasets[0].SeriesInstanceUID,
        source_dir=str(folder), volume_ml=42.0, alt_probability=0.61, label="alt", diameter_mm=55.0,
        models=[ModelRef(role="seg", model_id="demo", version="1")],
    )
    result.qc.status = "pass"
    return JobContext("job-1", job_dir, cfg, result), grid_mask


def test_report_stage_writes_aligned_seg_and_sr_into_the_job(tmp_path: Path, siemens_study: Path) -> None:
    ctx, grid_mask = _context(tmp_path, siemens_study)
    report_stage(ctx)
    seg = ctx.job_dir / ctx.result.artefacts["seg"]
    sr = ctx.job_dir / ctx.result.artefacts["sr"]
    assert pydicom.dcmread(seg).SOPInstanceUID == ctx.result.seg_sop_instance_uid
    assert pydicom.dcmread(sr).SeriesDescription == "P(ALT) 0.61 - ALT likely, auto-seg, QC pass"
    assert dciodvfy(seg).errors == [] and dciodvfy(sr).errors == []
    # the grid mask (frames along the normal) comes back from dcmqi unchanged
    assert np.array_equal(dcmqi_mask(seg, tmp_path / "dcmqi"), grid_mask.astype(bool))


def test_report_stage_refuses_a_job_without_a_probability(tmp_path: Path, siemens_study: Path) -> None:
    ctx, _ = _context(tmp_path, siemens_study)
    ctx.result.alt_probability = None
    with pytest.raises(ReportError, match="alt_probability"):
        report_stage(ctx)


def test_amended_job_result_supersedes_the_first(tmp_path: Path, siemens_study: Path) -> None:
    ctx, _ = _context(tmp_path, siemens_study)
    report_stage(ctx)
    first_sr = ctx.result.sr_sop_instance_uid
    ctx.result.amends = [ctx.result.seg_sop_instance_uid, first_sr]
    ctx.result.seg_method = "interactive"
    report_stage(ctx)
    sr = pydicom.dcmread(ctx.job_dir / ctx.result.artefacts["sr"])
    assert sr.SOPInstanceUID != first_sr
    ref = sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert ref.ReferencedSOPInstanceUID == first_sr
    assert sr.SeriesDescription.startswith("AMENDED P(ALT) 0.61")


def test_send_stage_delivers_to_orthanc_and_records_it(
    tmp_path: Path, siemens_study: Path, orthanc: Orthanc
) -> None:
    dest = {"kind": "dicom", "name": "pacs", "host": "127.0.0.1", "port": orthanc.dicom_port,
            "ae_title": orthanc.aet, "timeout_s": 5}
    ctx, _ = _context(tmp_path, siemens_study, destinations=[dest])
    report_stage(ctx)
    send_stage(ctx)
    assert ctx.result.delivery.status == "delivered" and ctx.result.delivery.destinations == ["pacs"]
    with orthanc.client() as c:
        ids = c.get("/instances").json()
        modalities = sorted(c.get(f"/instances/{i}/tags?simplify").json()["Modality"] for i in ids)
    assert modalities == ["OT", "SEG", "SR"]  # SEG, SR and the key image (report.key_image: true)
    orthanc.stop()
    ctx.result.amends = [ctx.result.seg_sop_instance_uid, ctx.result.sr_sop_instance_uid]
    report_stage(ctx)
    with pytest.raises(DeliveryError, match="pending"):
        send_stage(ctx)  # the runner retries delivery_failed; the outbox keeps the item
    assert ctx.result.delivery.status == "pending"


def test_cli_report_build_and_templates_check(
    tmp_path: Path, siemens_study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from node.cli import main

    ctx, _ = _context(tmp_path, siemens_study)
    rc = main(["report", "build", str(siemens_study / SAG), "--mask", str(ctx.job_dir / "mask.nii.gz"),
               "--out", str(tmp_path / "cli"), "--p-alt", "0.2", "--label", "lipoma",
               "--volume-ml", "42", "--model", "seg=demo-1"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["headline"] == "P(ALT) 0.20 - lipoma likely, auto-seg, QC pass"
    assert dciodvfy(Path(out["seg_path"])).errors == []
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["report", "templates", str(bad)]) != 0
    assert "invalid DICOM templates" in capsys.readouterr().err


def test_job_waits_for_the_outbox_beyond_max_attempts_then_delivers(
    tmp_path: Path, siemens_study: Path, orthanc: Orthanc
) -> None:
    """A PACS that is down longer than jobs.max_attempts dispatches does not fail the job while
    the outbox (send.retry) still retries; once the PACS is back the job is delivered."""
    import time

    from node.jobs.jobdb import JobDB
    from node.jobs.model import JobState
    from node.jobs.pipeline import RESULT_FILE, Pipeline
    from node.jobs.runner import LocalRunner

    dest = {"kind": "dicom", "name": "pacs", "host": "127.0.0.1", "port": orthanc.dicom_port,
            "ae_title": orthanc.aet, "timeout_s": 5}
    ctx, _ = _context(tmp_path, siemens_study, destinations=[dest],
                      retry={"base_delay_s": 0.2, "max_delay_s": 0.5, "max_attempts": 12})
    cfg = load_config(None, data_dir=str(tmp_path / "var"), send=ctx.cfg.send.model_dump(),
                      jobs={"stages": ["report", "send"], "max_attempts": 2, "retry_backoff_s": 30})
    job_dir = cfg.jobs_dir / "job-1"
    job_dir.parent.mkdir(parents=True, exist_ok=True)
    ctx.job_dir.rename(job_dir)
    ctx.result.to_file(job_dir / RESULT_FILE)
    db = JobDB(cfg.db_path)
    db.create(ctx.result.study_uid, source_dir=ctx.result.source_dir, job_id="job-1")
    runner = LocalRunner(cfg, Pipeline.from_names(cfg.jobs.stages))  # real dispatches, counted
    orthanc.stop()
    try:
        for _ in range(4):  # twice max_attempts
            time.sleep(0.6)
            runner.poll_once()
            assert runner.wait_idle(60)
            row = db.get("job-1")
            assert row.state is JobState.REPORTED and row.error_code == "delivery_pending"
            assert row.not_before - time.time() < 5  # the outbox's schedule, not retry_backoff_s
        orthanc.start()
        time.sleep(0.6)
        runner.poll_once()
        assert runner.wait_idle(60)
        assert db.get("job-1").state is JobState.DELIVERED
    finally:
        runner.stop()
        db.close()
