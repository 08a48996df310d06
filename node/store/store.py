"""The store: spool files plus the ``instances`` index and the ``audit`` table.

Contract (ARCHITECTURE.md): :meth:`Store.store_instance` returns only after the file is
durable under its final name (atomic rename) and its index row committed; the caller (the
SCP) acknowledges Success only then. By default (``store.sync: group``) the durability is a
group commit shared by all associations (:mod:`node.store.commit`: one syncfs and one index
transaction per batch). The spool is the durable record: the index connection
runs with ``synchronous=NORMAL`` (WAL; a commit survives a process crash, and only a power
loss can drop the last commits), because :meth:`Store.reconcile` re-indexes at start-up every
spool file that has no row. That saves the WAL fsync on the hot path. A second copy of a
SOP Instance UID already indexed is answered from the index (idempotent, PS3.4 B.4.1 leaves
duplicate handling to the SCP). One SQLite connection guarded by a lock serves every
association thread (pynetdicom runs each association in its own thread).
"""

from __future__ import annotations

import io
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import pydicom

from node.store.commit import GroupCommitter, Ticket, syncfs, syncfs_available
from node.store.config import StoreConfig
from node.store.db import connect, ensure_schema
from node.store.errors import OutOfSpace
from node.store.spool import (
    SUFFIX,
    Spool,
    fsync_files_and_folders,
    journaled_rename,
    relative_path,
)
from node.store.validate import InstanceKeys, check_instance

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    sop_instance_uid TEXT PRIMARY KEY,
    study_uid TEXT NOT NULL,
    series_uid TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    received_at REAL NOT NULL,
    calling_ae TEXT NOT NULL,
    transfer_syntax TEXT NOT NULL,
    association_id INTEGER
);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_uid, received_at);
CREATE INDEX IF NOT EXISTS instances_series ON instances(series_uid);
CREATE INDEX IF NOT EXISTS instances_received ON instances(received_at);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    result TEXT NOT NULL,
    calling_ae TEXT NOT NULL DEFAULT '',
    called_ae TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    instances INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    status INTEGER,
    sop_instance_uid TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
"""

#: how long a statvfs of the spool is trusted (less what was written since)
FREE_SPACE_TTL_S = 0.5

_COLUMNS = "sop_instance_uid, sop_class_uid, study_uid, series_uid, path, size, received_at, " \
    "calling_ae, transfer_syntax"


class AuditKind(StrEnum):
    ASSOCIATION = "association"
    INSTANCE = "instance"
    LOGIN = "login"  # worklist web login (host = client address, detail = user or its hash)


class AuditResult(StrEnum):
    """Outcome of an association (accepted/released/aborted/rejected) or an instance."""

    OPEN = "open"  # association in progress (row written at acceptance, updated at close)
    INTERRUPTED = "interrupted"  # still open when the node stopped (found at the next start)
    RELEASED = "released"
    ABORTED = "aborted"
    REJECTED = "rejected"
    SUCCEEDED = "succeeded"  # a login
    STORED = "stored"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    REFUSED = "refused"


@dataclass(frozen=True)
class AuditEvent:
    """One audit row. No patient data: AE titles, peer address, counts, UIDs and status only."""

    kind: AuditKind
    result: AuditResult
    calling_ae: str = ""
    called_ae: str = ""
    host: str = ""
    instances: int = 0
    bytes: int = 0
    status: int | None = None
    sop_instance_uid: str | None = None
    detail: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class InstanceRecord:
    sop_instance_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    path: Path
    size: int
    received_at: datetime
    calling_ae: str
    transfer_syntax: str


@dataclass(frozen=True)
class Reconciliation:
    """What :meth:`Store.reconcile` repaired at start-up."""

    interrupted_associations: int
    orphans_indexed: int
    orphans_removed: int


@dataclass(frozen=True)
class StoredInstance:
    """What :meth:`Store.store_instance` did: the record, and whether it was already there."""

    record: InstanceRecord
    duplicate: bool


class Store:
    def __init__(self, db_path: Path, spool_dir: Path, cfg: StoreConfig) -> None:
        self._cfg = cfg
        #: where this store lives, for an ingest process that opens the same one
        self.cfg = cfg
        self.db_path = Path(db_path)
        self.spool = Spool(Path(spool_dir))
        self._conn: sqlite3.Connection = connect(db_path)
        ensure_schema(self._conn, SCHEMA)
        self._conn.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
        columns = {r[1] for r in self._conn.execute("PRAGMA table_info(instances)")}
        if "association_id" not in columns:  # database from before association ids
            self._conn.execute("ALTER TABLE instances ADD COLUMN association_id INTEGER")
        self._lock = threading.Lock()
        self._dir_sync = ThreadPoolExecutor(max_workers=4, thread_name_prefix="spool-dirsync")
        #: one fsync per instance (see Spool.place_synced) where the file system allows it
        self.one_fsync = cfg.sync == "auto" and journaled_rename(self.spool.root)
        self._free_lock = threading.Lock()
        self._free_seen: tuple[float, int] = (-FREE_SPACE_TTL_S, 0)
        #: group commit across associations (node.store.commit), the default
        self.committer: GroupCommitter | None = None
        self._root_fd: int | None = None
        self._journaled = journaled_rename(self.spool.root)
        if cfg.sync == "group":
            flush = fsync_files_and_folders
            if syncfs_available():
                self._root_fd = os.open(self.spool.root, os.O_RDONLY | os.O_DIRECTORY)
                flush = self._syncfs
            self.committer = GroupCommitter(flush, self._index_rows)

    def close(self) -> None:
        if self.committer is not None:
            self.committer.close()
        if self._root_fd is not None:
            os.close(self._root_fd)
            self._root_fd = None
        self._dir_sync.shutdown(wait=True)
        with self._lock:
            self._conn.close()

    def recover(self, window_s: float = 300.0) -> int:
        """Drop index rows of the last ``window_s`` seconds whose file is missing.

        Only a power loss between an index commit and its folder fsync leaves such a row, and
        that instance was never acknowledged (the answer waits for both). Run at start-up,
        before serving; returns how many rows were dropped.
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT sop_instance_uid, path FROM instances WHERE received_at >= "
                "(SELECT MAX(received_at) FROM instances) - ?", (window_s,)
            ).fetchall()
        lost = [r["sop_instance_uid"] for r in rows if not (self.spool.root / r["path"]).is_file()]
        if lost:
            with self._lock:
                self._conn.executemany("DELETE FROM instances WHERE sop_instance_uid=?",
                                       [(u,) for u in lost])
        return len(lost)

    # -- writing ---------------------------------------------------------------------------
    def store_instance(
        self, ds: pydicom.Dataset, *, transfer_syntax: str, calling_ae: str,
        raw: bytes | Sequence[bytes] | None = None, association_id: int | None = None,
    ) -> StoredInstance:
        """Validate, durably spool and index one instance.

        ``raw`` is the complete DICOM Part 10 file that ``ds`` was decoded from, as one buffer
        or as consecutive pieces (the SCP passes preamble + file meta and the data set bytes as
        received, so the bytes stored are the bytes sent); without it ``ds``
        is written in ``transfer_syntax``. Raises an ``InvalidInstance`` subclass (nothing
        written) or :class:`OutOfSpace` (free space below ``min_free_bytes``, or ENOSPC).
        """
        ticket = self.committer.announce() if self.committer is not None else None
        try:
            return self._store_instance(ds, transfer_syntax, calling_ae, raw, association_id,
                                        ticket)
        finally:
            if ticket is not None:
                self.committer.withdraw(ticket)  # type: ignore[union-attr]

    def _store_instance(self, ds: pydicom.Dataset, transfer_syntax: str, calling_ae: str,
                        raw: bytes | Sequence[bytes] | None, association_id: int | None,
                        ticket: Ticket | None) -> StoredInstance:
        keys = check_instance(ds, transfer_syntax)
        rel = relative_path(keys.study_uid, keys.series_uid, keys.sop_instance_uid)
        if (self.spool.root / rel).is_file():  # a stat first: the index is asked only then
            existing = self._get(keys.sop_instance_uid)
            if existing is not None:
                return StoredInstance(existing, duplicate=True)
        pieces = [raw] if isinstance(raw, bytes) else list(raw) if raw is not None else \
            [_encode(ds, transfer_syntax)]
        size = sum(len(p) for p in pieces)
        free = self._free_bytes(size)
        if free - size < self._cfg.min_free_bytes:
            raise OutOfSpace(
                f"{free} bytes free on the spool, watermark is {self._cfg.min_free_bytes}"
            )
        if self.committer is not None:
            return self._group_commit(keys, rel, pieces, calling_ae, transfer_syntax,
                                      association_id, ticket)
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        if self.one_fsync:
            path = self.spool.place_synced(rel, data)  # renamed, then one fsync
            return self._index(keys, rel, path, data, calling_ae, transfer_syntax, association_id)
        path = self.spool.place(rel, data)  # fsynced and renamed
        # The folder fsync (rename durable) and the index commit (WAL fsync) overlap: both
        # must finish before we return, and the row only becomes visible after the rename, so
        # a reader never finds a row without its file. A power loss between the two can leave
        # a row whose rename was lost; it was never acknowledged and recover() drops it.
        dir_synced = self._dir_sync.submit(self.spool.sync_dir, path.parent)
        now = time.time()
        try:
            with self._lock:
                self._conn.execute(
                    f"INSERT OR REPLACE INTO instances({_COLUMNS}, association_id)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (keys.sop_instance_uid, keys.sop_class_uid, keys.study_uid, keys.series_uid,
                     str(rel), len(data), now, calling_ae, str(transfer_syntax), association_id),
                )
        finally:
            dir_error = dir_synced.exception()
        if dir_error is not None:
            with self._lock:
                self._conn.execute("DELETE FROM instances WHERE sop_instance_uid=?",
                                   (keys.sop_instance_uid,))
            raise dir_error
        record = InstanceRecord(
            keys.sop_instance_uid, keys.sop_class_uid, keys.study_uid, keys.series_uid, path,
            len(data), datetime.fromtimestamp(now, UTC), calling_ae, str(transfer_syntax),
        )
        return StoredInstance(record, duplicate=False)

    def _free_bytes(self, size: int) -> int:
        """Free space on the spool, from a ``statvfs`` at most :data:`FREE_SPACE_TTL_S` old
        minus what was written since (one syscall per instance less on the hot path); a
        refusal is always decided on a fresh ``statvfs``."""
        now = time.monotonic()
        with self._free_lock:
            at, free = self._free_seen
            if now - at < FREE_SPACE_TTL_S and free - size >= self._cfg.min_free_bytes:
                self._free_seen = (at, free - size)
                return free
        free = self.spool.free_bytes()
        with self._free_lock:
            self._free_seen = (now, free - size)
        return free

    def _group_commit(self, keys: InstanceKeys, rel: Path, pieces: Sequence[bytes],
                      calling_ae: str, transfer_syntax: str, association_id: int | None,
                      ticket: Ticket | None = None) -> StoredInstance:
        """Write + rename now; durable and indexed with every other instance waiting."""
        assert self.committer is not None
        size = sum(len(b) for b in pieces)
        path = self.spool.place_unsynced(rel, pieces)
        now = time.time()
        row = (keys.sop_instance_uid, keys.sop_class_uid, keys.study_uid, keys.series_uid,
               str(rel), size, now, calling_ae, str(transfer_syntax), association_id)
        try:
            self.committer.commit(path, row, ticket)
        except BaseException:
            # never acknowledged; the file may be whole, but its batch failed as one
            path.unlink(missing_ok=True)
            raise
        record = InstanceRecord(
            keys.sop_instance_uid, keys.sop_class_uid, keys.study_uid, keys.series_uid, path,
            size, datetime.fromtimestamp(now, UTC), calling_ae, str(transfer_syntax),
        )
        return StoredInstance(record, duplicate=False)

    def _syncfs(self, paths: Sequence[Path]) -> None:
        """A batch of one on ext4/XFS/btrfs: fsync of that file, which commits its rename too
        (see Spool.place_synced) and, unlike syncfs, does not wait for other programs' dirty
        data on the same file system (measured under load: same median, 8 ms instead of
        43 ms worst case). A larger batch: one syncfs, one journal commit for all of them."""
        if len(paths) == 1 and self._journaled:
            fd = os.open(paths[0], os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        assert self._root_fd is not None
        syncfs(self._root_fd)

    def _index_rows(self, rows: Sequence[tuple]) -> None:
        """One transaction for a whole batch (WAL, synchronous=NORMAL: no fsync of its own;
        the spool is the durable record, see the module docstring)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    f"INSERT OR REPLACE INTO instances({_COLUMNS}, association_id)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _index(self, keys: InstanceKeys, rel: Path, path: Path, data: bytes, calling_ae: str,
               transfer_syntax: str, association_id: int | None) -> StoredInstance:
        now = time.time()
        with self._lock:
            self._conn.execute(
                f"INSERT OR REPLACE INTO instances({_COLUMNS}, association_id)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (keys.sop_instance_uid, keys.sop_class_uid, keys.study_uid, keys.series_uid,
                 str(rel), len(data), now, calling_ae, str(transfer_syntax), association_id),
            )
        record = InstanceRecord(
            keys.sop_instance_uid, keys.sop_class_uid, keys.study_uid, keys.series_uid, path,
            len(data), datetime.fromtimestamp(now, UTC), calling_ae, str(transfer_syntax),
        )
        return StoredInstance(record, duplicate=False)

    def audit(self, event: AuditEvent) -> int:
        """Append one audit row; returns its id (for :meth:`update_audit`)."""
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO audit(at, kind, result, calling_ae, called_ae, host, instances, bytes,"
                " status, sop_instance_uid, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (event.at.timestamp(), str(event.kind), str(event.result), event.calling_ae,
                 event.called_ae, event.host, event.instances, event.bytes, event.status,
                 event.sop_instance_uid, event.detail),
            )
            return int(cur.lastrowid or 0)

    def update_audit(self, row_id: int, event: AuditEvent) -> None:
        """Close an association row written at its start (result, counts, detail)."""
        with self._lock:
            self._conn.execute(
                "UPDATE audit SET result=?, instances=?, bytes=?, detail=? WHERE id=?",
                (str(event.result), event.instances, event.bytes, event.detail, row_id),
            )

    # -- start-up reconciliation ---------------------------------------------------------
    def reconcile(self) -> Reconciliation:
        """Make spool, index and audit agree after a crash; run before serving.

        - association rows still ``open`` become ``interrupted``, with the instances that were
          indexed under them counted (they were acknowledged: the answer follows the commit);
        - a complete ``.dcm`` without an index row (crash between rename and commit, never
          acknowledged but intact) is checked like a received instance and indexed, or
          removed when it does not pass.
        """
        with self._lock:
            open_rows = self._conn.execute(
                "SELECT a.id, COUNT(i.sop_instance_uid), COALESCE(SUM(i.size), 0) FROM audit a"
                " LEFT JOIN instances i ON i.association_id = a.id"
                " WHERE a.kind=? AND a.result=? GROUP BY a.id",
                (str(AuditKind.ASSOCIATION), str(AuditResult.OPEN)),
            ).fetchall()
            for row_id, count, size in open_rows:
                self._conn.execute(
                    "UPDATE audit SET result=?, instances=?, bytes=?, detail=? WHERE id=?",
                    (str(AuditResult.INTERRUPTED), count, size, "node stopped during association",
                     row_id),
                )
            known = {r[0] for r in self._conn.execute("SELECT path FROM instances")}
        indexed = removed = 0
        for path in self.spool.root.rglob(f"*{SUFFIX}"):
            rel = path.relative_to(self.spool.root)
            if str(rel) in known or path.name.startswith("."):
                continue
            if self._index_orphan(path, rel):
                indexed += 1
            else:
                path.unlink(missing_ok=True)
                removed += 1
        return Reconciliation(len(open_rows), indexed, removed)

    def _index_orphan(self, path: Path, rel: Path) -> bool:
        try:
            ds = pydicom.dcmread(path)
            ts = str(ds.file_meta.TransferSyntaxUID)
            keys = check_instance(ds, ts)
        except Exception:  # anything unreadable goes
            return False
        if relative_path(keys.study_uid, keys.series_uid, keys.sop_instance_uid) != rel:
            return False
        st = path.stat()
        with self._lock:
            self._conn.execute(
                f"INSERT OR IGNORE INTO instances({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                (keys.sop_instance_uid, keys.sop_class_uid, keys.study_uid, keys.series_uid,
                 str(rel), st.st_size, st.st_mtime, "", ts),
            )
        return True

    def remove_study(self, study_uid: str, *, dry_run: bool = False) -> tuple[int, int]:
        """Delete a study's spool files and index rows (retention); returns (instances, bytes).

        The index rows go after the files, so a crash in between leaves rows whose file is
        missing (re-run removes them), never a spool file that nothing indexes.
        """
        with self._lock:
            rows = self._conn.execute("SELECT path, size FROM instances WHERE study_uid=?",
                                      (study_uid,)).fetchall()
            if not dry_run:
                for row in rows:
                    (self.spool.root / row["path"]).unlink(missing_ok=True)
                self._conn.execute("DELETE FROM instances WHERE study_uid=?", (study_uid,))
        return len(rows), sum(int(r["size"]) for r in rows)

    # -- reading ---------------------------------------------------------------------------
    def _select(self, where: str, args: tuple) -> list[InstanceRecord]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM instances {where}", args).fetchall()
        return [self._record(r) for r in rows]

    def _record(self, r: sqlite3.Row) -> InstanceRecord:
        return InstanceRecord(
            r["sop_instance_uid"], r["sop_class_uid"], r["study_uid"], r["series_uid"],
            self.spool.root / r["path"], r["size"], datetime.fromtimestamp(r["received_at"], UTC),
            r["calling_ae"], r["transfer_syntax"],
        )

    def _get(self, sop_instance_uid: str) -> InstanceRecord | None:
        found = self._select("WHERE sop_instance_uid=?", (sop_instance_uid,))
        return found[0] if found else None

    def get_instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        return self._get(sop_instance_uid)

    def study_uids(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT study_uid FROM instances GROUP BY study_uid ORDER BY MIN(received_at)"
            ).fetchall()
        return [r[0] for r in rows]

    def last_received_by_study(self) -> dict[str, datetime]:
        """Newest instance per study, oldest study first: one query per runner poll instead of
        one per study."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT study_uid, MAX(received_at) FROM instances GROUP BY study_uid"
                " ORDER BY MIN(received_at)"
            ).fetchall()
        return {r[0]: datetime.fromtimestamp(r[1], UTC) for r in rows}

    def study_instances(self, study_uid: str) -> list[InstanceRecord]:
        return self._select("WHERE study_uid=? ORDER BY series_uid, received_at", (study_uid,))

    def series_instances(self, series_uid: str) -> list[InstanceRecord]:
        return self._select("WHERE series_uid=? ORDER BY received_at", (series_uid,))

    def last_received(self, study_uid: str) -> datetime | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT MAX(received_at) FROM instances WHERE study_uid=?", (study_uid,)
            ).fetchone()
        return None if row[0] is None else datetime.fromtimestamp(row[0], UTC)

    def audit_events(self, kind: AuditKind | None = None, limit: int = 1000) -> list[AuditEvent]:
        """Most recent audit rows first (for tests, ``/metrics`` and operators)."""
        where, args = ("WHERE kind=?", (str(kind),)) if kind else ("", ())
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM audit {where} ORDER BY id DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [
            AuditEvent(
                kind=AuditKind(r["kind"]), result=AuditResult(r["result"]),
                calling_ae=r["calling_ae"], called_ae=r["called_ae"], host=r["host"],
                instances=r["instances"], bytes=r["bytes"], status=r["status"],
                sop_instance_uid=r["sop_instance_uid"], detail=r["detail"],
                at=datetime.fromtimestamp(r["at"], UTC),
            )
            for r in rows
        ]


def _encode(ds: pydicom.Dataset, transfer_syntax: str) -> bytes:
    """Part 10 encoding of an in-memory dataset (pull mode or tests pass ``raw`` instead)."""
    ds.file_meta = getattr(ds, "file_meta", None) or pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.UID(transfer_syntax)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
