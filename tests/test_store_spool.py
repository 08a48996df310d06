"""Store: durable spool + index, idempotence, hashed paths, watermark, named errors."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian
from receive_helpers import mr_slice

from node.errors import InvalidInstance, LipoNodeError
from node.store import (
    AuditEvent,
    AuditKind,
    AuditResult,
    BadPixelData,
    MissingUid,
    OutOfSpace,
    Store,
)
from node.store.config import StoreConfig
from node.store.db import connect
from node.store.spool import filesystem_type


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "db.sqlite3", tmp_path / "spool", StoreConfig(min_free_bytes=0))
    yield s
    s.close()


def _put(store: Store, ds: pydicom.Dataset, ae: str = "TEST"):
    return store.store_instance(ds, transfer_syntax=ExplicitVRLittleEndian, calling_ae=ae)


def _spool_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_stored_instance_is_indexed_readable_and_under_hashed_path(store: Store, tmp_path: Path):
    ds = mr_slice()
    stored = _put(store, ds)
    rec = stored.record
    assert not stored.duplicate
    assert rec.path.is_file() and rec.path.is_relative_to(tmp_path / "spool")
    for uid in (ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID):
        assert uid not in str(rec.path)  # paths from digests only
    back = pydicom.dcmread(rec.path)
    assert back.SOPInstanceUID == ds.SOPInstanceUID
    assert (back.pixel_array == ds.pixel_array).all()
    assert rec.size == rec.path.stat().st_size
    assert store.study_uids() == [ds.StudyInstanceUID]
    assert store.study_instances(ds.StudyInstanceUID) == [rec]
    assert store.series_instances(ds.SeriesInstanceUID) == [rec]
    assert store.last_received(ds.StudyInstanceUID) == rec.received_at
    assert store.last_received("1.2.3.4") is None
    assert not list((tmp_path / "spool").rglob("*.part"))


def test_duplicate_sop_instance_uid_is_idempotent(store: Store, tmp_path: Path):
    ds = mr_slice()
    first = _put(store, ds, "A")
    again = _put(store, ds, "B")
    assert again.duplicate and again.record == first.record
    assert len(store.study_instances(ds.StudyInstanceUID)) == 1
    assert len(_spool_files(tmp_path / "spool")) == 1


def test_raw_bytes_are_stored_verbatim(store: Store):
    ds = mr_slice()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    raw = buf.getvalue()
    rec = store.store_instance(pydicom.dcmread(io.BytesIO(raw)), transfer_syntax=ExplicitVRLittleEndian,
                               calling_ae="X", raw=raw).record
    assert rec.path.read_bytes() == raw


@pytest.mark.parametrize(
    "missing", ["SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID"]
)
def test_missing_uid_is_refused_and_nothing_written(store: Store, tmp_path: Path, missing: str):
    ds = mr_slice()
    delattr(ds, missing)
    with pytest.raises(MissingUid, match=missing) as err:
        _put(store, ds)
    assert isinstance(err.value, InvalidInstance) and err.value.dimse_status == 0xC211
    assert store.study_uids() == [] and _spool_files(tmp_path / "spool") == []


def test_traversal_uid_is_not_a_uid(store: Store, tmp_path: Path):
    ds = mr_slice()
    ds.SeriesInstanceUID = "../../../etc/passwd"
    with pytest.raises(MissingUid):
        _put(store, ds)
    assert _spool_files(tmp_path / "spool") == []


def test_truncated_pixel_data_is_refused(store: Store):
    ds = mr_slice()
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    with pytest.raises(BadPixelData) as err:
        _put(store, ds)
    assert err.value.dimse_status == 0xC212
    assert store.study_uids() == []


def test_undecodable_element_is_refused(store: Store):
    ds = mr_slice()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = bytearray(buf.getvalue())
    # declare an implausible length for the last text element before Pixel Data
    idx = data.find(b"\x10\x00\x20\x00LO")  # (0010,0020) PatientID
    data[idx + 6: idx + 8] = (0x7FFF).to_bytes(2, "little")
    bad = pydicom.dcmread(io.BytesIO(bytes(data)), force=True)
    with pytest.raises(InvalidInstance):  # the swallowed UIDs are missing: MissingUid here
        store.store_instance(bad, transfer_syntax=ExplicitVRLittleEndian, calling_ae="X", raw=bytes(data))
    assert store.study_uids() == []


def test_watermark_refuses_with_out_of_space(tmp_path: Path):
    s = Store(tmp_path / "db.sqlite3", tmp_path / "spool", StoreConfig(min_free_bytes=10**18))
    with pytest.raises(OutOfSpace) as err:
        _put(s, mr_slice())
    assert isinstance(err.value, LipoNodeError) and err.value.dimse_status == 0xA700
    assert s.study_uids() == [] and _spool_files(tmp_path / "spool") == []


def test_concurrent_writers_from_threads(store: Store):
    study = pydicom.uid.generate_uid()
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(10):
                _put(store, mr_slice(study=study, index=k * 10 + i), f"T{k}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(store.study_instances(study)) == 60


def test_index_survives_reopen_and_audit_round_trips(tmp_path: Path):
    s = Store(tmp_path / "db.sqlite3", tmp_path / "spool", StoreConfig(min_free_bytes=0))
    rec = _put(s, mr_slice()).record
    s.audit(AuditEvent(kind=AuditKind.ASSOCIATION, result=AuditResult.RELEASED, calling_ae="A",
                       host="127.0.0.1", instances=1, bytes=rec.size))
    s.close()
    s2 = Store(tmp_path / "db.sqlite3", tmp_path / "spool", StoreConfig(min_free_bytes=0))
    assert s2.study_instances(rec.study_uid) == [rec]
    (ev,) = s2.audit_events()
    assert (ev.kind, ev.result, ev.instances, ev.bytes) == (
        AuditKind.ASSOCIATION, AuditResult.RELEASED, 1, rec.size
    )
    conn = connect(tmp_path / "db.sqlite3")
    cols = {r[1] for r in conn.execute("PRAGMA table_info(instances)")}
    assert {"sop_instance_uid", "study_uid", "series_uid", "sop_class_uid", "path", "size",
            "received_at", "calling_ae", "transfer_syntax"} <= cols


def test_store_returns_only_after_file_and_folder_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = Store(tmp_path / "db.sqlite3", tmp_path / "spool",
                  StoreConfig(min_free_bytes=0, sync="file_and_folder"))
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        real_fsync(fd)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(os, "fsync", spy)
    try:
        rec = _put(store, mr_slice()).record
    finally:
        store.close()
    folder = str(rec.path.parent)
    assert folder in synced  # the rename is durable
    file_syncs = [p for p in synced if Path(p).parent == rec.path.parent and p != folder]
    assert file_syncs and file_syncs[0].endswith(".part")  # data fsynced before the rename
    assert synced.index(file_syncs[0]) < synced.index(folder)


def test_recover_drops_recent_rows_without_a_file(store: Store):
    kept, lost = _put(store, mr_slice()).record, _put(store, mr_slice()).record
    lost.path.unlink()  # as if a power loss had undone the rename of an unacknowledged one
    assert store.recover() == 1
    assert store.get_instance(lost.sop_instance_uid) is None
    assert store.get_instance(kept.sop_instance_uid) == kept
    assert store.recover() == 0


def test_one_fsync_per_instance_on_a_journaled_file_system(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    """``sync: auto``: on ext4/XFS/btrfs the file is fsynced once, *after* its rename (its
    inode's journal transaction then holds the new directory entry): no folder fsync, no WAL
    fsync."""
    store = Store(tmp_path / "auto.sqlite3", tmp_path / "auto-spool",
                  StoreConfig(min_free_bytes=0, sync="auto"))
    if not store.one_fsync:
        pytest.skip(f"spool on {filesystem_type(store.spool.root)!r}, not a journaled file system")
    first = mr_slice()
    _put(store, first)  # creates the study/series folders (durable mkdir: parent fsyncs)
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    rec = _put(store, mr_slice(study=first.StudyInstanceUID, series=first.SeriesInstanceUID)).record
    assert synced == [str(rec.path)]  # one fsync, of the file under its final name
    store.close()
