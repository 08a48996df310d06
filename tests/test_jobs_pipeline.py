"""Job state machine: persisted transitions, error mapping, retries, resume after a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobs_helpers import SimulatedCrash, calls, node_cfg
from pydantic import ValidationError
from pydicom.uid import generate_uid
from select_helpers import write_series

from node.jobs.control import run_folder
from node.jobs.errors import StageNotRegistered
from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import Pipeline, execute_job, register_stage


def test_run_folder_persists_each_transition(siemens_study: Path, tmp_path: Path) -> None:
    cfg = node_cfg(tmp_path / "data", ["select", "t_mark", "t_after"])
    path, result = run_folder(cfg, siemens_study)
    assert result.state is JobState.FEATURES
    assert result.completed_stages == ["select", "t_mark", "t_after"]
    assert set(result.timings_s) == {"select", "t_mark", "t_after"}
    assert result.selection is not None and result.selection.description == "t1_fl2d_sag"
    assert (path.parent / "mark.txt").read_text() == "35"  # the stage got the T1 series' files
    assert result.volume_ml == 12.5
    on_disk = JobResult.from_file(path)
    assert on_disk == result
    db = JobDB(cfg.db_path)
    row = db.get(result.job_id)
    assert row is not None and row.state is JobState.FEATURES
    assert row.series_uid == result.series_uid
    runs = db.stage_runs(result.job_id)
    assert [(r["stage"], r["ok"]) for r in runs] == [("select", 1), ("t_mark", 1), ("t_after", 1)]
    db.close()


def test_result_json_rejects_unknown_fields(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        JobResult(job_id="j1", study_uid="1.2.3", volume_mls=3.0)  # type: ignore[call-arg]
    bad = tmp_path / "result.json"
    bad.write_text(json.dumps({"job_id": "j1", "study_uid": "1.2", "colour": "red"}))
    with pytest.raises(ValidationError):
        JobResult.from_file(bad)


def test_unknown_stage_name_is_a_named_error() -> None:
    with pytest.raises(StageNotRegistered, match="t_nope"):
        Pipeline.from_names(["select", "t_nope"])


def test_pipeline_refuses_stages_that_move_backwards_or_repeat() -> None:
    with pytest.raises(ValueError, match="backwards"):
        Pipeline.from_names(["select", "t_after", "t_mark"])  # features before segmented
    with pytest.raises(ValueError, match="twice"):
        Pipeline.from_names(["select", "select"])
    with pytest.raises(ValueError, match="module:function"):
        register_stage("bad", JobState.QC, "no_colon")


def test_no_t1_study_goes_to_review_with_reason_code_and_every_series_scored(tmp_path: Path) -> None:
    src = tmp_path / "study"
    write_series(src, generate_uid(), "t2_tse_tra", tr=4000, te=90)
    cfg = node_cfg(tmp_path / "data", ["select", "t_mark"])
    _, result = run_folder(cfg, src)
    assert result.state is JobState.NEEDS_REVIEW  # the worklist's series picker (issue 13)
    assert result.error_code == "no_t1_series"
    assert result.completed_stages == []
    assert result.selection is not None and result.selection.method == "none"
    assert [s.description for s in result.selection.series] == ["t2_tse_tra"]
    assert result.selection.series[0].te_ms == 90
    assert calls(cfg.jobs_dir / result.job_id) == []  # later stages never ran


def test_no_t1_study_fails_where_the_site_wants_no_review(tmp_path: Path) -> None:
    src = tmp_path / "study"
    write_series(src, generate_uid(), "t2_tse_tra", tr=4000, te=90)
    cfg = node_cfg(tmp_path / "data", ["select", "t_mark"],
                   review_codes=["needs_review", "qc_failed", "segmentation_failed"])
    _, result = run_folder(cfg, src)
    assert result.state is JobState.FAILED and result.error_code == "no_t1_series"


def test_review_code_sends_job_to_needs_review(siemens_study: Path, tmp_path: Path) -> None:
    cfg = node_cfg(tmp_path / "data", ["select", "t_review", "t_after"])
    _, result = run_folder(cfg, siemens_study)
    assert result.state is JobState.NEEDS_REVIEW
    assert result.error_code == "needs_review"
    assert result.completed_stages == ["select"]
    assert "after" not in calls(cfg.jobs_dir / result.job_id)


def test_retryable_error_backs_off_then_fails_after_max_attempts(siemens_study: Path,
                                                                 tmp_path: Path) -> None:
    cfg = node_cfg(tmp_path / "data", ["select", "t_flaky"], max_attempts=3, retry_backoff_s=30)
    _, result = run_folder(cfg, siemens_study)
    assert result.state is JobState.SELECTED  # not failed: waits for a retry
    assert result.retries["t_flaky"] == 1 and result.error_code == "delivery_failed"
    db = JobDB(cfg.db_path)
    assert db.runnable() == []  # back-off: not runnable now ...
    assert [r.job_id for r in db.runnable(now=time.time() + 31)] == [result.job_id]  # ... later yes
    pipeline = Pipeline.from_names(cfg.jobs.stages)
    assert execute_job(result.job_id, cfg, pipeline) is JobState.SELECTED
    assert execute_job(result.job_id, cfg, pipeline) is JobState.FAILED
    final = JobResult.from_file(cfg.jobs_dir / result.job_id / "result.json")
    assert final.retries == {"select": 1, "t_flaky": 3}
    assert db.get(result.job_id).state is JobState.FAILED  # type: ignore[union-attr]
    db.close()


def test_crash_mid_pipeline_resumes_from_last_completed_stage(siemens_study: Path,
                                                              tmp_path: Path) -> None:
    cfg = node_cfg(tmp_path / "data", ["select", "t_mark", "t_crash_once", "t_after"])
    with pytest.raises(SimulatedCrash):
        run_folder(cfg, siemens_study)
    db = JobDB(cfg.db_path)
    (row,) = db.list()
    assert row.state is JobState.SEGMENTED  # the row recorded select and t_mark durably
    # "restart": a fresh execution of the same job
    assert execute_job(row.job_id, cfg, Pipeline.from_names(cfg.jobs.stages)) is JobState.FEATURES
    assert calls(cfg.jobs_dir / row.job_id) == ["mark", "crash_once", "crash_once", "after"]
    result = JobResult.from_file(cfg.jobs_dir / row.job_id / "result.json")
    assert result.retries == {"select": 1, "t_mark": 1, "t_crash_once": 2, "t_after": 1}
    db.close()


def test_cli_run_prints_result_json_path(siemens_study: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "node.cli", "run", str(siemens_study), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "LIPO_NODE_JOBS__STAGES": '["select"]'},
    )
    path = Path(out.stdout.strip())
    assert path.is_file() and path.is_relative_to(tmp_path)
    data = json.loads(path.read_text())
    assert data["state"] == "selected" and data["selection"]["description"] == "t1_fl2d_sag"
    from node.cli import main

    monkeypatch.setenv("LIPO_NODE_DATA_DIR", str(tmp_path))
    capsys.readouterr()
    assert main(["jobs", "list"]) == 0
    assert data["job_id"] in capsys.readouterr().out
    assert main(["jobs", "show", data["job_id"]]) == 0
    assert json.loads(capsys.readouterr().out) == data
    assert main(["jobs", "show", "jnothere"]) == 2  # named error, no traceback
    assert main(["jobs", "reopen", data["job_id"], "--from", "select"]) == 0
    assert "reopened in state received" in capsys.readouterr().out
    assert main(["jobs", "reopen", "jnothere", "--from", "select"]) == 2


def test_config_yaml_select_and_jobs_sections_equal_the_defaults() -> None:
    from node.config import DEFAULT_CONFIG, load_config
    from node.jobs.config import JobsConfig
    from node.select.config import SelectConfig

    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.select == SelectConfig()
    assert cfg.jobs == JobsConfig()
    assert Pipeline.from_names(cfg.jobs.stages).stages[0].name == "select"


def test_reopened_review_job_resumes_after_the_kept_stages(siemens_study: Path, tmp_path: Path) -> None:
    from node.jobs.control import reopen_job

    cfg = node_cfg(tmp_path / "data", ["select", "t_mark", "t_review", "t_after"])
    _, result = run_folder(cfg, siemens_study)
    assert result.state is JobState.NEEDS_REVIEW
    db = JobDB(cfg.db_path)
    assert db.runnable() == []
    # the clinician accepted the mask: their review stands in for the automatic check
    reopened = reopen_job(cfg, result.job_id, "t_review", done=["t_review"])
    assert reopened.state is JobState.QC
    assert reopened.completed_stages == ["select", "t_mark", "t_review"]
    assert [r.job_id for r in db.runnable()] == [result.job_id]
    assert execute_job(result.job_id, cfg, Pipeline.from_names(cfg.jobs.stages)) is JobState.FEATURES
    assert calls(cfg.jobs_dir / result.job_id) == ["mark", "review", "after"]
    assert db.runnable() == []
    db.close()
