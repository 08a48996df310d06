"""Group commit (store.sync: group): one flush per batch, ack after it, nothing acked lost."""

from __future__ import annotations

import errno
import io
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
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom.dsutils import create_file_meta, encode, encode_file_meta
from receive_helpers import mr_slice

from node.store import Store
from node.store.commit import syncfs_available
from node.store.config import StoreConfig
from node.store.part10 import part10_header

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "db.sqlite3", tmp_path / "spool", StoreConfig(min_free_bytes=0))
    yield s
    s.close()


def _put(store: Store, ds: pydicom.Dataset):
    return store.store_instance(ds, transfer_syntax=ExplicitVRLittleEndian, calling_ae="TEST")


@pytest.mark.parametrize("sop_class, sop", [
    ("1.2.840.10008.5.1.4.1.1.4", "1.2.3.4.5"),  # odd lengths: NULL padded
    ("1.2.840.10008.5.1.4.1.1.4.1", "1.2.3.4.56"),  # even lengths
])
@pytest.mark.parametrize("ts", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.90"])
def test_part10_header_is_byte_identical_to_pydicoms_file_meta(sop_class: str, sop: str, ts: str):
    meta = create_file_meta(sop_class_uid=sop_class, sop_instance_uid=sop, transfer_syntax=ts)
    assert part10_header(sop_class, sop, ts) == b"\0" * 128 + b"DICM" + encode_file_meta(meta)


def test_header_plus_received_bytes_read_back_as_the_instance():
    ds = mr_slice()
    body = encode(ds, False, True)  # the data set as an SCU sends it
    back = pydicom.dcmread(io.BytesIO(part10_header(ds.SOPClassUID, ds.SOPInstanceUID,
                                                    ExplicitVRLittleEndian) + body))
    assert back.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert back.PixelData == ds.PixelData and back.PatientName == ds.PatientName


def test_concurrent_instances_share_one_flush_and_are_acked_only_after_it(
        store: Store, monkeypatch: pytest.MonkeyPatch):
    assert store.committer is not None  # the default
    if not syncfs_available():
        pytest.skip("no syncfs(2) here: the fallback fsyncs each file and folder")
    seed = mr_slice()
    _put(store, seed)  # creates the study/series folders
    one_series = {"study": seed.StudyInstanceUID, "series": seed.SeriesInstanceUID}
    acked: list[str] = []
    flushed_batches: list[list[Path]] = []
    committer = store.committer
    real_flush = committer._flush
    gate = threading.Event()

    def slow_flush(paths):
        # nothing in this batch may have been answered yet
        assert not {str(p) for p in paths} & set(acked)
        flushed_batches.append(list(paths))
        if len(flushed_batches) == 1:
            gate.wait(5)  # hold the first flush so that the others queue behind it
        real_flush(paths)

    monkeypatch.setattr(committer, "_flush", slow_flush)
    fsynced: list[str] = []
    monkeypatch.setattr(os, "fsync", lambda fd: fsynced.append(os.readlink(f"/proc/self/fd/{fd}")))
    lock = threading.Lock()

    def send(ds):
        rec = _put(store, ds).record
        with lock:
            acked.append(str(rec.path))

    first = threading.Thread(target=send, args=(mr_slice(**one_series),))
    first.start()
    deadline = time.monotonic() + 5
    while not flushed_batches and time.monotonic() < deadline:
        time.sleep(0.005)
    others = [threading.Thread(target=send, args=(mr_slice(**one_series, index=i),))
              for i in range(1, 9)]
    for t in others:
        t.start()
    deadline = time.monotonic() + 5
    while len(committer._queue) < 8 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert acked == []  # all nine wait for durability
    gate.set()
    for t in [first, *others]:
        t.join(10)
    assert len(acked) == 9
    assert len(flushed_batches) == 2 and len(flushed_batches[1]) == 8  # one flush for eight
    # the lone first instance: fsync of its file (journaled fs); the eight: one syncfs
    assert fsynced == ([str(flushed_batches[0][0])] if store._journaled else [])
    for path in acked:
        assert pydicom.dcmread(path).PixelData


def test_failed_flush_fails_its_whole_batch_and_leaves_nothing(store: Store,
                                                               monkeypatch: pytest.MonkeyPatch):
    assert store.committer is not None

    def broken(_paths):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(store.committer, "_flush", broken)
    ds = mr_slice()
    with pytest.raises(OSError):
        _put(store, ds)
    assert store.get_instance(ds.SOPInstanceUID) is None
    assert list(store.spool.root.rglob("*.dcm")) == []


_CHILD = r"""
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from receive_helpers import mr_slice
from pydicom.uid import ExplicitVRLittleEndian
from node.store import Store
from node.store.config import StoreConfig

store = Store(Path({db!r}), Path({spool!r}), StoreConfig(min_free_bytes=0))
real_index = store.committer._index
batches = []

def index_then_die(rows):
    batches.append(len(rows))
    if len(batches) == 6:  # flushed, not indexed, not answered: the crash window
        print("KILL", rows[0][0], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    real_index(rows)

store.committer._index = index_then_die
study = {study!r}
for i in range(20):
    ds = mr_slice(study=study, index=i)
    store.store_instance(ds, transfer_syntax=ExplicitVRLittleEndian, calling_ae="TEST")
    print("ACK", ds.SOPInstanceUID, flush=True)
"""


def test_sigkill_between_flush_and_index_commit_loses_nothing_acknowledged(tmp_path: Path):
    """A real SIGKILL of a real process inside the group-commit window (file renamed and
    flushed, index row not committed, C-STORE not answered): every acknowledged instance is
    indexed after the restart, and start-up reconciliation indexes the unanswered one."""
    db, spool = tmp_path / "db.sqlite3", tmp_path / "spool"
    study = pydicom.uid.generate_uid()
    code = _CHILD.format(tests=str(REPO / "tests"), db=str(db), spool=str(spool), study=study)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    acked = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("ACK")]
    (killed,) = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("KILL")]
    assert len(acked) == 5 and killed not in acked

    store = Store(db, spool, StoreConfig(min_free_bytes=0))
    try:
        assert store.get_instance(killed) is None  # not indexed before the restart ...
        fixed = store.reconcile()
        assert fixed.orphans_indexed == 1 and fixed.orphans_removed == 0  # ... but intact
        indexed = {r.sop_instance_uid for r in store.study_instances(study)}
        assert set(acked) <= indexed and killed in indexed
        for uid in acked:
            assert pydicom.dcmread(store.get_instance(uid).path).SOPInstanceUID == uid
    finally:
        store.close()


def test_serve_config_default_is_group_commit():
    cfg = json.loads(json.dumps(StoreConfig().model_dump()))
    assert cfg["sync"] == "group"


def test_free_space_is_asked_once_per_ttl_and_a_refusal_always_rechecks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from node.store import OutOfSpace

    store = Store(tmp_path / "db.sqlite3", tmp_path / "spool",
                  StoreConfig(min_free_bytes=10_000_000))
    try:
        asked: list[int] = []
        answer = [10_000_000 + 10**9]
        monkeypatch.setattr(store.spool, "free_bytes", lambda: asked.append(1) or answer[0])
        for _ in range(5):
            _put(store, mr_slice())
        assert len(asked) == 1  # one statvfs for five instances (well within the TTL)
        answer[0] = 10_000_000  # the disk filled up behind our back: the estimate still passes
        store._free_seen = (store._free_seen[0], 10_000_000 + 10)  # ... until it does not
        with pytest.raises(OutOfSpace):
            _put(store, mr_slice())
        assert len(asked) == 2  # the refusal was decided on a fresh statvfs
    finally:
        store.close()


def test_a_leader_waits_for_announced_callers_but_a_lone_one_never_waits():
    from node.store.commit import GroupCommitter

    batches: list[list[Path]] = []
    committer = GroupCommitter(lambda paths: batches.append(list(paths)), lambda rows: None,
                               max_gather_s=2.0)
    t0 = time.monotonic()
    committer.commit(Path("alone"), ())  # nobody announced: flushed at once
    assert time.monotonic() - t0 < 1.0 and batches == [[Path("alone")]]

    on_the_way = committer.announce()  # e.g. another association still checking its instance
    leader = threading.Thread(target=committer.commit, args=(Path("first"), ()))
    leader.start()
    time.sleep(0.2)
    assert len(batches) == 1  # the leader is gathering, not flushing
    committer.commit(Path("second"), (), on_the_way)
    leader.join(5)
    assert batches[1] == [Path("first"), Path("second")]  # one flush for both

    refused = committer.announce()  # an announced caller whose instance is refused ...
    leader = threading.Thread(target=committer.commit, args=(Path("third"), ()))
    leader.start()
    time.sleep(0.2)
    committer.withdraw(refused)  # ... releases the gathering leader at once
    leader.join(5)
    assert not leader.is_alive() and batches[2] == [Path("third")]
