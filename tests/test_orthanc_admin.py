"""Admin commands and pull mode against a real Orthanc and a real in-process SCP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from orthanc_api_client import OrthancApiClient
from peers import free_port, running_orthanc

from node.cli import main
from node.config import load_config
from node.orthanc.client import make_client
from node.orthanc.pull import OrthancPuller
from node.receive import start_scp
from node.store import Store

pytestmark = pytest.mark.network


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple]:
    """Orthanc that knows the node as modality 'lipo-node', and the node's SCP + store."""
    node_port = free_port()
    modalities = {"lipo-node": ("LIPO_NODE", "127.0.0.1", node_port)}
    with running_orthanc(tmp_path / "orthanc", modalities=modalities, extra={"StableAge": 1}) as orthanc:
        cfg_file = tmp_path / "config.yaml"
        cfg_file.write_text(json.dumps({
            "data_dir": str(tmp_path / "var"),
            "receive": {"port": node_port, "allowed_callers": {"ORTHANC": ["127.0.0.1"]}},
            "store": {"min_free_bytes": 0},
            "orthanc": {"url": orthanc.url, "poll_interval_s": 0.5},
        }))
        cfg = load_config(cfg_file)
        store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
        scp = start_scp(cfg.receive, store)
        try:
            yield orthanc, cfg_file, cfg, store
        finally:
            scp.shutdown()
            store.close()


def _upload(orthanc, folder: Path) -> None:
    client = OrthancApiClient(orthanc.url)
    for path in sorted(folder.glob("*.dcm")):
        client.upload_file(str(path))


def test_status_echoes_the_node_and_send_routes_a_study(site, siemens_study: Path, capsys) -> None:
    orthanc, cfg_file, _, store = site
    assert main(["--config", str(cfg_file), "orthanc", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["echo_ok"] is True and status["node_modality_configured"] is True
    _upload(orthanc, siemens_study / "3_t1_fl2d_sag")
    study_uid = pydicom.dcmread(next((siemens_study / "3_t1_fl2d_sag").glob("*.dcm"))).StudyInstanceUID
    assert main(["--config", str(cfg_file), "orthanc", "send", study_uid]) == 0
    assert store.study_uids() == [study_uid]
    assert len(store.study_instances(study_uid)) == 35


def test_send_of_an_unknown_study_is_a_named_error(site, capsys) -> None:
    _, cfg_file, _, _ = site
    assert main(["--config", str(cfg_file), "orthanc", "send", "1.2.3.4.5"]) == 2
    assert "study_not_in_orthanc" in capsys.readouterr().err


def test_pull_mode_takes_new_stable_studies_once(site, siemens_study: Path) -> None:
    orthanc, _, cfg, store = site
    puller = OrthancPuller(cfg.orthanc, store, cfg.db_path, make_client(cfg.orthanc))
    assert puller.poll_once() == []  # first start: history skipped, position recorded
    _upload(orthanc, siemens_study / "3_t1_fl2d_sag")
    pulled = []
    deadline = time.monotonic() + 30
    while not pulled and time.monotonic() < deadline:  # StableAge 1 s
        pulled = puller.poll_once()
        time.sleep(0.5)
    assert len(pulled) == 1 and pulled[0].instances == 35
    assert sum(len(store.study_instances(u)) for u in store.study_uids()) == 35
    # a restarted puller resumes after the recorded change: nothing is taken twice
    again = OrthancPuller(cfg.orthanc, store, cfg.db_path, make_client(cfg.orthanc))
    assert again.poll_once() == []
