"""Ingest processes (node.receive.workers): plain-TCP associations served by worker processes.

Real peers: four dcmtk storescu senders at once; a worker SIGKILLed and restarted."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from receive_helpers import mr_slice, pynetdicom_send, running_scp, storescu, wait_for, write

from node.store import AuditKind, AuditResult

pytestmark = pytest.mark.timeout(180)


def _folder(root: Path, study: str, n: int, offset: int) -> Path:
    for i in range(n):
        write(mr_slice(study=study, index=offset + i), root / f"{i:03d}.dcm")
    return root


def test_four_senders_through_two_ingest_processes(tmp_path: Path):
    studies = [f"1.2.826.0.1.3680043.8.498.{k + 1}" for k in range(4)]
    folders = [_folder(tmp_path / f"in{k}", studies[k], 12, 100 * k) for k in range(4)]
    with running_scp(tmp_path / "node", ingest_processes=2) as scp:
        pool = _pool(scp)
        assert pool.size == 2 and pool.open_counts() == [0, 0]
        errors: list[str] = []

        def send(folder: Path) -> None:
            proc = storescu(scp.port, folder)
            if proc.returncode != 0:
                errors.append(proc.stderr[-500:])

        threads = [threading.Thread(target=send, args=(f,)) for f in folders]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        for study in studies:
            assert len(scp.store.study_instances(study)) == 12
        # every stored instance woke the main process (the runner's on_stored)
        assert wait_for(lambda: len(scp.records) == 48, timeout_s=10), len(scp.records)
        assert wait_for(lambda: pool.open_counts() == [0, 0], timeout_s=10), pool.open_counts()
        assert wait_for(lambda: sum(e.instances or 0 for e in scp.store.audit_events(
            AuditKind.ASSOCIATION)) == 48, timeout_s=10)
        rows = scp.store.audit_events(AuditKind.ASSOCIATION)
        assert len(rows) == 4 and all(e.result == AuditResult.RELEASED for e in rows)


def test_a_killed_ingest_process_is_replaced(tmp_path: Path):
    study = "1.2.826.0.1.3680043.8.498.77"
    with running_scp(tmp_path / "node", ingest_processes=1) as scp:
        pool = _pool(scp)
        assert pynetdicom_send(scp.port, [mr_slice(study=study, index=0)]) == [0x0000]
        old = pool.worker_pids()
        os.kill(old[0], signal.SIGKILL)
        assert wait_for(lambda: pool.worker_pids() not in ([], old) and pool.ready_count() == 1,
                        timeout_s=60), pool.worker_pids()
        assert pynetdicom_send(scp.port, [mr_slice(study=study, index=i) for i in (1, 2)]) \
            == [0x0000, 0x0000]
        assert len(scp.store.study_instances(study)) == 3


def _pool(scp):
    pool = scp.server.pool
    assert pool is not None, "no ingest pool on the running SCP"
    return pool
