"""The local runner: studies from the real Store become jobs run in worker processes; a killed
worker's job resumes from its last completed stage."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

from jobs_helpers import calls, node_cfg, store_folder
from pydicom.uid import generate_uid
from select_helpers import write_series

from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import Pipeline
from node.jobs.runner import LocalRunner
from node.store import Store


def _wait(pred, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_runner_turns_a_stored_study_into_a_selected_job(siemens_study: Path, tmp_path: Path) -> None:
    cfg = node_cfg(tmp_path, ["select"])
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    assert store_folder(store, siemens_study) == 48
    runner = LocalRunner(cfg, Pipeline.from_names(cfg.jobs.stages), store)
    try:
        runner.poll_once()
        assert runner.wait_idle(60)
        runner.poll_once()  # a finished job is not dispatched again
        assert runner.idle()
    finally:
        runner.stop()
    db = JobDB(cfg.db_path)
    (row,) = db.list()
    assert row.state is JobState.SELECTED and row.attempts == 1
    result = JobResult.from_file(cfg.jobs_dir / row.job_id / "result.json")
    assert result.selection is not None and result.selection.description == "t1_fl2d_sag"
    assert Path(store.series_instances(result.series_uid or "")[0].path).is_file()
    db.close()
    store.close()


def test_study_missing_a_slice_gets_its_job_only_after_max_wait(tmp_path: Path) -> None:
    cfg = node_cfg(tmp_path / "data", ["select"])
    src = tmp_path / "src"
    write_series(src, generate_uid(), "t1_tse_tra", tr=550, te=11, n=12, skip=[6])
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    store_folder(store, src)
    (study_uid,) = store.study_uids()
    last = store.last_received(study_uid)
    assert last is not None
    runner = LocalRunner(cfg, Pipeline.from_names(cfg.jobs.stages), store)
    try:
        assert runner.discover(last + timedelta(seconds=1)) == []  # quiet but a slice is missing
        assert runner.discover(last + timedelta(seconds=2)) == []
        (job_id,) = runner.discover(last + timedelta(seconds=cfg.select.max_wait_s + 0.1))
    finally:
        runner.stop()
    result = JobResult.from_file(cfg.jobs_dir / job_id / "result.json")
    assert result.warnings == ["incomplete_series"] and result.state is JobState.RECEIVED
    store.close()


def test_killed_worker_job_resumes_without_redoing_completed_stages(siemens_study: Path,
                                                                     tmp_path: Path) -> None:
    cfg = node_cfg(tmp_path, ["select", "t_mark", "t_slow", "t_after"])
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    store_folder(store, siemens_study)
    runner = LocalRunner(cfg, Pipeline.from_names(cfg.jobs.stages), store)
    runner.start()
    db = JobDB(cfg.db_path)
    try:
        assert _wait(lambda: bool(db.list()), 30)
        job_dir = cfg.jobs_dir / db.list()[0].job_id
        pid_file = job_dir / "slow.pid"
        assert _wait(pid_file.exists, 60), "slow stage never started"
        assert db.list()[0].state is JobState.SEGMENTED  # select + t_mark recorded before the kill
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        assert _wait(lambda: db.list()[0].state is JobState.FEATURES, 60), db.list()[0]
    finally:
        runner.stop()
    row = db.list()[0]
    assert row.attempts == 2
    assert calls(job_dir) == ["mark", "slow", "slow", "after"]
    result = JobResult.from_file(job_dir / "result.json")
    assert result.completed_stages == ["select", "t_mark", "t_slow", "t_after"]
    assert result.retries == {"select": 1, "t_mark": 1, "t_slow": 2, "t_after": 1}
    db.close()
    store.close()


def test_bounded_shutdown_then_restart_resumes_the_cut_off_stage(siemens_study: Path,
                                                                 tmp_path: Path) -> None:
    cfg = node_cfg(tmp_path, ["select", "t_mark", "t_slow", "t_after"])
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    store_folder(store, siemens_study)
    pipeline = Pipeline.from_names(cfg.jobs.stages)
    runner = LocalRunner(cfg, pipeline, store)
    runner.start()
    db = JobDB(cfg.db_path)
    try:
        assert _wait(lambda: bool(db.list()), 30)
        job_dir = cfg.jobs_dir / db.list()[0].job_id
        assert _wait((job_dir / "slow.pid").exists, 60)
        t0 = time.monotonic()
        runner.stop(grace_s=0.5)  # the slow stage would take 60 s
        assert time.monotonic() - t0 < 15
        assert db.list()[0].state is JobState.SEGMENTED
        restarted = LocalRunner(cfg, pipeline, store)  # "next start" on the same database
        restarted.poll_once()
        assert restarted.wait_idle(60)
        restarted.stop()
    finally:
        runner.stop(grace_s=0)
    assert db.list()[0].state is JobState.FEATURES
    assert calls(job_dir) == ["mark", "slow", "slow", "after"]
    db.close()
    store.close()


def test_late_t1_series_redoes_a_job_that_failed_for_want_of_one(tmp_path: Path) -> None:
    """PACS routing sent the STIR first; the job waits in the worklist (no T1). The T1 arrives
    minutes later: once the study is quiet again the job is redone from select and picks it up.
    A later, irrelevant series (a localizer) is only noted."""
    cfg = node_cfg(tmp_path / "data", ["select"])
    study_uid = generate_uid()
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    runner = LocalRunner(cfg, Pipeline.from_names(cfg.jobs.stages), store)
    db = JobDB(cfg.db_path)
    try:
        write_series(tmp_path / "stir", study_uid, "stir_cor", tr=4500, te=60, ti=150, n=10,
                     scanning_sequence=["SE", "IR"])
        store_folder(store, tmp_path / "stir")
        runner.poll_once()
        assert runner.wait_idle(60)
        (row,) = db.list()
        assert (row.state, row.error_code) == (JobState.NEEDS_REVIEW, "no_t1_series")

        time.sleep(0.05)
        t1_uid = write_series(tmp_path / "t1", study_uid, "t1_tse_tra", tr=550, te=11, n=12)
        store_folder(store, tmp_path / "t1")
        runner.poll_once()
        assert runner.wait_idle(60)
        runner.poll_once()
        (row,) = db.list()
        assert row.state is JobState.SELECTED and row.series_uid == t1_uid
        result = JobResult.from_file(cfg.jobs_dir / row.job_id / "result.json")
        assert "late_instances" in result.warnings and result.late_data_at is not None

        time.sleep(0.05)
        write_series(tmp_path / "loc", study_uid, "localizer", tr=8, te=4, n=3, scanning_sequence="GR")
        store_folder(store, tmp_path / "loc")
        runner.poll_once()
        runner.poll_once()
        assert runner.wait_idle(60)
        (row,) = db.list()
        assert row.state is JobState.SELECTED and row.series_uid == t1_uid and row.attempts == 2
        result = JobResult.from_file(cfg.jobs_dir / row.job_id / "result.json")
        assert "late_instances_ignored" in result.warnings
    finally:
        runner.stop()
        db.close()
        store.close()


def test_late_series_do_not_override_a_reviewers_pick(tmp_path: Path) -> None:
    """A reviewer picked the series of a no-T1 study; a T1 that arrives later is only noted: the
    human decision stands (they can pick again in the worklist)."""
    from node.worklist.pick import pick_series

    cfg = node_cfg(tmp_path / "data", ["select"])
    study_uid = generate_uid()
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    runner = LocalRunner(cfg, Pipeline.from_names(cfg.jobs.stages), store)
    db = JobDB(cfg.db_path)
    try:
        pd_uid = write_series(tmp_path / "pd", study_uid, "pd_tse_tra", tr=3000, te=30, n=12)
        store_folder(store, tmp_path / "pd")
        runner.poll_once()
        assert runner.wait_idle(60)
        (row,) = db.list()
        assert (row.state, row.error_code) == (JobState.NEEDS_REVIEW, "no_t1_series")
        seg_jobs = cfg.jobs.model_copy(update={"stages": ["select", "segment"]})
        cfg_seg = cfg.model_copy(update={"jobs": seg_jobs})
        pick_series(cfg_seg, row.job_id, pd_uid, "anna")
        time.sleep(0.05)
        write_series(tmp_path / "t1", study_uid, "t1_tse_tra", tr=550, te=11, n=12)
        store_folder(store, tmp_path / "t1")
        runner.poll_once()
        assert runner.wait_idle(60)
        runner.poll_once()
        result = JobResult.from_file(cfg.jobs_dir / row.job_id / "result.json")
        assert result.series_uid == pd_uid and result.selection.method == "manual"
        assert "late_instances_ignored" in result.warnings
    finally:
        runner.stop()
        db.close()
        store.close()
