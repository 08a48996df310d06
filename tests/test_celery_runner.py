"""``jobs.runner: celery`` against a real ``redis-server`` and real ``lipo-node worker``
subprocesses: the same results as the local runner on a batch of synthetic studies, stages
routed to the gpu/cpu queues by name, and a killed worker process's stage redelivered."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery_helpers import ran_on

from node.bench.e2e_celery import (
    celery_cfg,
    ingest,
    redis_server,
    synth_studies,
    worker_processes,
    write_config,
)
from node.config import NodeConfig, load_config
from node.jobs.celery_runner import CeleryRunner, wait_finished
from node.jobs.jobdb import JobDB, job_id_for
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import Pipeline
from node.jobs.runner import LocalRunner
from node.store import Store

TESTS = Path(__file__).resolve().parent
ENV = {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
STAGES = ["select", "tc_gpu", "tc_cpu"]
COMPARED = ("state", "study_uid", "series_uid", "selection", "warnings", "qc", "volume_ml",
            "alt_probability", "label", "completed_stages", "error_code", "artefacts")


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return synth_studies(tmp_path_factory.mktemp("studies"), 6, matrix=64)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def _cfg(data_dir: Path, stages: list[str], **celery: Any) -> NodeConfig:
    return load_config(
        None, data_dir=str(data_dir), select={"quiet_s": 0.0, "max_wait_s": 5.0},
        store={"min_free_bytes": 0},
        jobs={"stages": stages, "workers": 1, "poll_interval_s": 0.1, "retry_backoff_s": 0,
              "celery": {"stage_queues": {"segment": "gpu", "tc_gpu": "gpu", "tc_slow": "gpu"},
                     **celery}},
    )


def _results(cfg: NodeConfig) -> dict[str, dict[str, Any]]:
    db = JobDB(cfg.db_path)
    try:
        rows = db.list()
    finally:
        db.close()
    out = {}
    for row in rows:
        r = JobResult.from_file(cfg.jobs_dir / row.job_id / "result.json").model_dump(mode="json")
        out[row.study_uid] = {k: r[k] for k in COMPARED} | {"row_state": str(row.state)}
    return out


def test_celery_workers_give_the_local_runners_results(
    studies: list[Path], redis_url: str, tmp_path: Path
) -> None:
    import celery_helpers  # noqa: F401  (registers tc_* here too, for the local run)

    local = _cfg(tmp_path / "local", STAGES)
    ingest(local, studies)
    store = Store(local.db_path, local.spool_dir, local.store)
    runner = LocalRunner(local, Pipeline.from_names(STAGES), store)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (len(runner.db.list()) < 6 or
                                                runner.db.runnable(now=float("inf"))):
            runner.poll_once()
            runner.wait_idle(30)
    finally:
        runner.stop()
        store.close()
    expected = _results(local)
    assert len(expected) == 6
    assert {r["state"] for r in expected.values()} == {"qc"}

    cel = celery_cfg(_cfg(tmp_path / "celery", STAGES), tmp_path / "celery", redis_url)
    ingest(cel, studies)
    path = write_config(cel, tmp_path / "celery.yaml")
    with worker_processes(path, [("gpu", "gpu"), ("cpu", "cpu")], tmp_path, ["celery_helpers"], ENV):
        store = Store(cel.db_path, cel.spool_dir, cel.store)
        crunner = CeleryRunner(cel, Pipeline.from_names(STAGES), store)
        try:
            assert wait_finished(crunner, 6, 120), _results(cel)
        finally:
            crunner.stop(0)
            store.close()
    got = _results(cel)
    assert got == expected
    for study_uid in got:  # each stage ran once, on a worker of its queue
        where = ran_on(cel.jobs_dir / job_id_for(study_uid))
        assert where == {"tc_gpu": ["gpu"], "tc_cpu": ["cpu"]}
    db = JobDB(cel.db_path)
    try:
        runs = db.stage_runs()
        rows = db.list()
        assert all(row.finished and row.attempts == 1 for row in rows), rows
    finally:
        db.close()
    assert sorted(r["stage"] for r in runs) == sorted(STAGES * 6)


def test_killed_worker_process_stage_is_redelivered(
    studies: list[Path], redis_url: str, tmp_path: Path
) -> None:
    stages = ["select", "tc_slow"]
    cel = celery_cfg(_cfg(tmp_path / "data", stages), tmp_path / "data", redis_url)
    ingest(cel, studies[:1])
    path = write_config(cel, tmp_path / "celery.yaml")
    with worker_processes(path, [("w", "gpu,cpu")], tmp_path, ["celery_helpers"], ENV):
        store = Store(cel.db_path, cel.spool_dir, cel.store)
        crunner = CeleryRunner(cel, Pipeline.from_names(stages), store)
        try:
            crunner.poll_once()
            (job_id,) = [r.job_id for r in crunner.db.list()]
            pid_file = cel.jobs_dir / job_id / "slow.pid"
            deadline = time.monotonic() + 60
            while not pid_file.exists() and time.monotonic() < deadline:
                crunner.poll_once()
                time.sleep(0.1)
            assert pid_file.exists(), "tc_slow never started"
            os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the pool process, mid-stage
            assert wait_finished(crunner, 1, 60)
        finally:
            crunner.stop(0)
            store.close()
    result = JobResult.from_file(cel.jobs_dir / job_id / "result.json")
    assert result.state is JobState.QC and result.completed_stages == stages
    assert ran_on(cel.jobs_dir / job_id)["tc_slow"] == ["w", "w"]  # run, killed, run again
    assert result.retries == {"select": 1, "tc_slow": 2}
    db = JobDB(cel.db_path)
    try:
        (row,) = db.list()
        assert row.attempts == 1 and row.finished  # the broker redelivered; no re-dispatch
    finally:
        db.close()


@pytest.mark.slow
def test_celery_real_segmentation_chain_matches_local(
    studies: list[Path], redis_url: str, tmp_path: Path
) -> None:
    """select → segment (gpu queue, the configured nnU-Net model on CPU) → qc (cpu queue)."""
    stages = ["select", "segment", "qc"]
    local = _cfg(tmp_path / "local", stages)
    if not (local.segment.model_folder() / "fold_0" / local.segment.checkpoint).is_file():
        pytest.skip(f"no segmentation model at {local.segment.model_folder()}")
    picked = studies[:2]
    ingest(local, picked)
    store = Store(local.db_path, local.spool_dir, local.store)
    runner = LocalRunner(local, Pipeline.from_names(stages), store)
    try:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and (len(runner.db.list()) < 2 or
                                                runner.db.runnable(now=float("inf"))):
            runner.poll_once()
            runner.wait_idle(300)
    finally:
        runner.stop()
        store.close()
    expected = _results(local)
    assert {r["state"] for r in expected.values()} <= {"qc", "needs_review"}
    assert all(r["volume_ml"] for r in expected.values())

    cel = celery_cfg(_cfg(tmp_path / "celery", stages), tmp_path / "celery", redis_url)
    assert cel.jobs.celery.stage_queues["segment"] == "gpu"  # the default routing
    ingest(cel, picked)
    path = write_config(cel, tmp_path / "celery.yaml")
    with worker_processes(path, [("gpu", "gpu"), ("cpu", "cpu")], tmp_path, (), ENV):
        store = Store(cel.db_path, cel.spool_dir, cel.store)
        crunner = CeleryRunner(cel, Pipeline.from_names(stages), store)
        try:
            assert wait_finished(crunner, 2, 400), _results(cel)
        finally:
            crunner.stop(0)
            store.close()
    got = _results(cel)
    for study_uid, want in expected.items():
        have = got[study_uid]
        assert have.pop("volume_ml") == pytest.approx(want.pop("volume_ml"), rel=1e-3)
        assert have == want
