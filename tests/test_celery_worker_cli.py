"""``lipo-node worker`` start-up checks and the Celery settings that make stages crash-safe
(no broker needed: the app is built, not connected)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from node.config import load_config
from node.jobs.celery_app import STAGE_TASK, make_celery, queue_for, queues_of

REPO = Path(__file__).resolve().parents[1]


def test_app_from_config_is_crash_safe_and_routes_by_stage(tmp_path: Path) -> None:
    cfg = load_config(None, data_dir=str(tmp_path), jobs={
        "runner": "celery", "stages": ["select", "segment", "qc"],
        "celery": {"broker_url": "redis://127.0.0.1:1/0", "result_backend": "redis://127.0.0.1:1/1",
                   "stage_queues": {"segment": "gpu"}, "visibility_timeout_s": 7200}})
    app = make_celery(cfg)
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]  # nothing unpickled from the broker
    assert conf.broker_transport_options["visibility_timeout"] == 7200
    assert conf.broker_url == "redis://127.0.0.1:1/0"
    assert STAGE_TASK in app.tasks
    assert [queue_for(cfg, s) for s in cfg.jobs.stages] == ["cpu", "gpu", "cpu"]
    assert queues_of(cfg) == ["cpu", "gpu"]
    other = make_celery(load_config(None, jobs={"celery": {"broker_url": "redis://127.0.0.1:2/0"}}))
    assert other.conf.broker_url != conf.broker_url  # no shared module-level app


def test_worker_refuses_an_unregistered_stage_before_consuming(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path), "jobs": {
        "runner": "celery", "stages": ["select", "no_such_stage"],
        "celery": {"broker_url": "redis://127.0.0.1:1/0"}}}))
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli", "worker", "--config", str(config), "--queues", "cpu"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "no_such_stage" in proc.stderr and "stage_not_registered" in proc.stderr
