"""HTTP API: /healthz, /metrics, /api/jobs with TestClient, and `lipo-node serve` for real
(uvicorn on a free port, dcmtk storescu sending the Siemens study, SIGTERM shutdown)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, HTTPException
from fastapi.testclient import TestClient
from jobs_helpers import node_cfg, store_folder
from peers import dcmtk_env, free_port, wait_port

from node.dcmtk import dcmtk
from node.jobs.control import run_folder
from node.store import Store
from node.worklist.app import create_app

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def populated(siemens_study: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = node_cfg(tmp_path, ["select", "t_mark"])
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    store_folder(store, siemens_study)
    store.close()
    _, result = run_folder(cfg, siemens_study)
    return cfg, result


def test_jobs_api_lists_and_returns_result_json(populated) -> None:  # type: ignore[no-untyped-def]
    cfg, result = populated
    client = TestClient(create_app(cfg))
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    jobs = client.get("/api/jobs").json()
    assert [j["job_id"] for j in jobs] == [result.job_id]
    assert jobs[0]["state"] == "segmented" and jobs[0]["series_uid"] == result.series_uid
    assert client.get("/api/jobs", params={"state": "failed"}).json() == []
    detail = client.get(f"/api/jobs/{result.job_id}").json()
    assert detail["selection"]["description"] == "t1_fl2d_sag"
    assert detail["completed_stages"] == ["select", "t_mark"]
    assert client.get("/api/jobs/jdoesnotexist").status_code == 404
    assert client.get("/api/jobs/..%2F..%2Fetc").status_code == 404
    assert client.get("/api/jobs", params={"state": "bogus"}).status_code == 422


def test_metrics_are_computed_from_the_database(populated) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = populated
    text = TestClient(create_app(cfg)).get("/metrics").text
    assert "lipo_node_instances_received_total 48.0" in text
    assert 'lipo_node_jobs{state="segmented"} 1.0' in text
    assert 'lipo_node_jobs{state="failed"} 0.0' in text
    assert 'lipo_node_outbox_items{state="dead"} 0.0' in text
    assert 'lipo_node_stage_duration_seconds_count{outcome="ok",stage="select"} 1.0' in text
    assert 'lipo_node_stage_duration_seconds_bucket{le="+Inf",outcome="ok",stage="t_mark"} 1.0' in text


def test_api_dependencies_guard_api_but_not_probes(populated) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = populated

    def deny() -> None:
        raise HTTPException(status_code=401, detail="login required")

    client = TestClient(create_app(cfg, api_dependencies=[Depends(deny)]))
    assert client.get("/api/jobs").status_code == 401
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_serve_receives_selects_and_reports_over_http(siemens_study: Path, tmp_path: Path) -> None:
    dicom_port, http_port = free_port(), free_port()
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({
        "data_dir": str(tmp_path / "var"),
        "logging": {"level": "WARNING"},
        "receive": {"port": dicom_port, "allowed_callers": {"STORESCU": ["127.0.0.1"]}},
        "store": {"min_free_bytes": 0},
        "select": {"quiet_s": 0.5, "max_wait_s": 5},
        "jobs": {"workers": 1, "poll_interval_s": 0.2, "stages": ["select"]},
        "http": {"port": http_port, "require_login": False},
    }))
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "node.cli", "serve", "--config", str(config)],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(http_port, 30)
        wait_port(dicom_port, 30)
        base = f"http://127.0.0.1:{http_port}"
        assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
        series_dirs = sorted(str(p) for p in siemens_study.iterdir() if p.is_dir())
        sent = subprocess.run([dcmtk("storescu"), "-aet", "STORESCU", "-aec", "LIPO_NODE", "+sd",
                               "127.0.0.1", str(dicom_port), *series_dirs],
                              env=dcmtk_env(), timeout=60, capture_output=True, text=True)
        assert sent.returncode == 0, sent.stderr
        deadline, jobs = time.monotonic() + 40, []
        while time.monotonic() < deadline:
            jobs = httpx.get(f"{base}/api/jobs", timeout=5).json()
            if jobs and jobs[0]["state"] == "selected":
                break
            time.sleep(0.3)
        assert jobs and jobs[0]["state"] == "selected", (jobs, (tmp_path / "serve.log").read_text())
        detail = httpx.get(f"{base}/api/jobs/{jobs[0]['job_id']}", timeout=5).json()
        assert detail["selection"]["description"] == "t1_fl2d_sag"
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert "lipo_node_instances_received_total 48.0" in metrics
        assert 'lipo_node_associations_total{result="released"} 1.0' in metrics
        assert 'lipo_node_jobs{state="selected"} 1.0' in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def test_serve_refuses_to_run_without_its_http_port(tmp_path: Path) -> None:
    import socket

    from node.app.serve import serve
    from node.errors import LipoNodeError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg = node_cfg(tmp_path, ["select"]).model_copy(deep=True)
        cfg.receive.port = free_port()
        cfg.http.port = taken.getsockname()[1]
        with pytest.raises(LipoNodeError, match="HTTP server did not start"):
            serve(cfg)
    # the SCP it had started is closed again: its port is free
    with socket.socket() as again:
        again.bind(("127.0.0.1", cfg.receive.port))


def test_served_app_puts_api_and_pages_behind_the_worklist_login(tmp_path: Path) -> None:
    from node.app.serve import node_app
    from node.config import load_config

    client = TestClient(node_app(load_config(None, data_dir=str(tmp_path / "var"))))
    assert client.get("/api/jobs").status_code == 401
    assert client.get("/", follow_redirects=False).status_code in (302, 303, 307)
    assert client.get("/healthz").status_code == 200  # probes stay open for the load balancer
