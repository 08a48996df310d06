"""Small behaviour fixes of the architecture issue: review refuses FAILED jobs, the worklist's
likely-ALT priority follows the classifier, and `jobs list | head -1` ends quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from node.config import load_config
from node.jobs.folder import JobFolder
from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState
from node.vocab import Label
from node.worklist import review as rv

REPO = Path(__file__).resolve().parents[1]


def _cfg(tmp_path: Path):
    return load_config(None, data_dir=str(tmp_path / "data"), store={"min_free_bytes": 0})


@pytest.mark.parametrize("state", [JobState.FAILED, JobState.QC])
def test_review_refuses_jobs_that_are_not_waiting_or_delivered(tmp_path: Path, state: JobState) -> None:
    cfg = _cfg(tmp_path)
    JobFolder.of(cfg, "jfail").save_result(JobResult(job_id="jfail", study_uid="1.2", state=state))
    with pytest.raises(rv.ReviewError, match="only needs_review or delivered"):
        rv.accept_correction(cfg, "jfail", None, "excellent", "automatic", "anna")


def test_likely_alt_follows_the_label_then_the_configured_threshold() -> None:
    r = JobResult(job_id="j", study_uid="1", state=JobState.DELIVERED, alt_probability=0.45)
    assert rv.likely_alt(r, 0.4) and not rv.likely_alt(r, 0.5)  # no label yet: the threshold
    r.label = Label.LIPOMA  # the bundle's threshold said lipoma: that decides
    assert not rv.likely_alt(r, 0.4)
    assert rv.priority(r, 0.4) == 0
    r.label = Label.ALT
    assert rv.priority(r, 0.9) == 1


def test_jobs_list_into_a_closed_pipe_ends_without_a_traceback(tmp_path: Path) -> None:
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(json.dumps({"data_dir": str(tmp_path / "data")}))
    cfg = load_config(cfg_file)
    db = JobDB(cfg.db_path)
    try:
        for i in range(3000):  # ~300 kB of lines: far more than a pipe buffer
            db.create(f"1.2.826.0.1.{i}", job_id=f"j{i:05d}")
    finally:
        db.close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "node.cli", "--config", str(cfg_file), "jobs", "list",
                             "--limit", "5000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"job_id")
    proc.stdout.close()  # what `head -1` does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipeError" not in err
