"""Durability: SIGKILL the SCP mid-stream; every acknowledged instance survives the restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pydicom
import pytest
from peers import free_port, wait_port
from pynetdicom import AE
from receive_helpers import OUR_AE, SCU_AE, mr_slice, pynetdicom_send, wait_for

from node.store import Store
from node.store.config import StoreConfig

REPO = Path(__file__).resolve().parents[1]


def _start(cfg: Path, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "node.receive", "--config", str(cfg)], cwd=REPO,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    wait_port(port, timeout_s=30)
    return proc


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _stream(port: int, acked: dict[str, bytes], stop: threading.Event, study: str) -> None:
    """Send instances until the association dies; record each one answered Success."""
    ae = AE(ae_title=SCU_AE)
    ae.acse_timeout = ae.network_timeout = 10
    ae.dimse_timeout = 3  # a killed peer is noticed by this timeout at the latest
    ae.add_requested_context(pydicom.uid.MRImageStorage, pydicom.uid.ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title=OUR_AE)
    i = 0
    while assoc.is_established and not stop.is_set() and i < 5000:
        ds = mr_slice(study=study, index=i, size=128)
        try:
            rsp = assoc.send_c_store(ds)
        except Exception:  # the peer vanished mid-message
            break
        if rsp.get("Status") == 0x0000:
            acked[ds.SOPInstanceUID] = ds.PixelData
        i += 1
    if assoc.is_established:
        assoc.abort()


def test_sigkill_mid_stream_loses_no_acknowledged_instance(tmp_path: Path):
    port = free_port()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(json.dumps({
        "data_dir": str(tmp_path / "var"),
        "logging": {"level": "WARNING"},
        "receive": {"port": port, "allowed_callers": {SCU_AE: ["127.0.0.1"]}},
        "store": {"min_free_bytes": 0},
    }))
    log = tmp_path / "scp.log"
    proc = _start(cfg, port, log)
    acked: dict[str, bytes] = {}
    stop = threading.Event()
    study = pydicom.uid.generate_uid()
    sender = threading.Thread(target=_stream, args=(port, acked, stop, study), daemon=True)
    try:
        sender.start()
        assert wait_for(lambda: len(acked) >= 25, timeout_s=30), log.read_text()[-2000:]
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: the sender is still sending
        proc.wait(10)
        sender.join(20)
        assert time.monotonic() - t0 < 15
        assert not sender.is_alive()
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    proc = _start(cfg, port, log)  # restart on the same spool and database
    try:
        store = Store(tmp_path / "var" / "lipo-node.sqlite3", tmp_path / "var" / "spool",
                      StoreConfig(min_free_bytes=0))
        indexed = {r.sop_instance_uid: r for r in store.study_instances(study)}
        missing = set(acked) - set(indexed)
        assert not missing, f"{len(missing)} acknowledged instances lost"
        assert len(indexed) <= len(acked) + 1  # at most the one in flight was stored unanswered
        for uid, pixels in acked.items():
            back = pydicom.dcmread(indexed[uid].path)
            assert back.SOPInstanceUID == uid and back.PixelData == pixels
        # the restarted SCP serves the same study on
        assert pynetdicom_send(port, [mr_slice(study=study, index=9999)]) == [0x0000]
        assert len(store.study_instances(study)) == len(indexed) + 1
        store.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0  # clean shutdown on SIGTERM


@pytest.mark.parametrize("ingest_processes", [0, 2])
def test_sigkill_of_serve_with_four_senders_loses_no_acknowledged_instance(tmp_path: Path,
                                                                         ingest_processes: int):
    """Group commit across associations (the default ``store.sync: group``): four senders
    stream into a real ``lipo-node serve``, which is SIGKILLed while batches are in flight
    (files renamed, flush or index commit pending, answers not sent). After the restart every
    acknowledged instance is indexed and intact. With ingest processes the SIGKILL of the main
    process takes its workers down too (PR_SET_PDEATHSIG): none keeps writing after it."""
    port, http_port = free_port(), free_port()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(json.dumps({
        "data_dir": str(tmp_path / "var"),
        "logging": {"level": "WARNING"},
        "receive": {"port": port, "allowed_callers": {SCU_AE: ["127.0.0.1"]},
                    "ingest_processes": ingest_processes},
        "store": {"min_free_bytes": 0, "sync": "group"},
        "select": {"quiet_s": 3600, "max_wait_s": 7200},  # no job starts during the test
        "jobs": {"workers": 1, "stages": ["select"]},
        "http": {"port": http_port, "require_login": False},
    }))
    log = tmp_path / "serve.log"

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "node.cli", "serve", "--config", str(cfg)],
                                cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        wait_port(port, timeout_s=60)
        return proc

    proc = start()
    acked: list[dict[str, bytes]] = [{} for _ in range(4)]
    studies = [pydicom.uid.generate_uid() for _ in range(4)]
    stop = threading.Event()
    senders = [threading.Thread(target=_stream, args=(port, acked[k], stop, studies[k]),
                                daemon=True) for k in range(4)]
    try:
        for s in senders:
            s.start()
        assert wait_for(lambda: sum(map(len, acked)) >= 60 and all(acked), timeout_s=60), \
            log.read_text()[-2000:]
        children = _children(proc.pid)
        assert len(children) >= ingest_processes  # the workers (and mp's resource tracker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for s in senders:
            s.join(20)
            assert not s.is_alive()
        assert wait_for(lambda: not any(_alive(c) for c in children), timeout_s=10), \
            "ingest processes outlived the SIGKILLed main process"
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    proc = start()  # start-up reconciliation runs before the SCP listens
    try:
        store = Store(tmp_path / "var" / "lipo-node.sqlite3", tmp_path / "var" / "spool",
                      StoreConfig(min_free_bytes=0))
        for study, sent in zip(studies, acked, strict=True):
            indexed = {r.sop_instance_uid: r for r in store.study_instances(study)}
            missing = set(sent) - set(indexed)
            assert not missing, f"{len(missing)} acknowledged instances lost"
            assert len(indexed) <= len(sent) + 1  # at most the one in flight, stored unanswered
            for uid, pixels in sent.items():
                assert pydicom.dcmread(indexed[uid].path).PixelData == pixels
        store.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
