"""Persistent outbox in the node's SQLite database: never lose, never duplicate a result.

States (``ItemState``)::

    pending ──send ok──▶ sent ──confirmed (C-FIND / QIDO-RS finds every UID)──▶ delivered
       │ fail: attempts+1, next_at = now + backoff      │ not found yet: retry later
       └──── attempts == max_attempts ──▶ dead (dead letter, visible in /metrics and the CLI)

The row is committed as ``sent`` before confirmation starts, so after a crash a ``sent`` item
is confirmed first and sent again only if the destination lacks an instance. Because the
SEG/SR UIDs are deterministic, a second C-STORE/STOW of the same instance replaces rather
than duplicates it at the destination. ``enqueue`` is idempotent per (job, destination, UIDs).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pydicom
from pydantic import BaseModel, ConfigDict

from node.errors import DeliveryError
from node.send.config import SendConfig
from node.send.senders import InstanceRef, sender_for
from node.store.db import connect, ensure_schema
from node.vocab import DeliveryState

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    files TEXT NOT NULL,
    refs TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    delivered_at REAL,
    UNIQUE (job_id, destination, refs)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE INDEX IF NOT EXISTS outbox_job ON outbox (job_id);
"""


#: how long a worker holds an item it is sending (longer than any send + confirm)
CLAIM_S = 600.0


#: an outbox item's state is a delivery state (``skipped`` is never stored for an item)
ItemState = DeliveryState


class OutboxItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    job_id: str
    destination: str
    files: tuple[Path, ...]
    sop_uids: tuple[str, ...]
    state: ItemState
    attempts: int
    next_at: float
    last_error: str | None
    delivered_at: float | None


class DeliveryStatus(BaseModel):
    """Per job: ``delivered`` when every item is, ``dead`` if any is, else ``pending``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str
    overall: ItemState | None
    items: tuple[OutboxItem, ...]


def instance_refs(files: Sequence[Path]) -> list[InstanceRef]:
    refs = []
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=[
                "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"])
            refs.append(InstanceRef(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                                    str(ds.SOPInstanceUID), str(ds.SOPClassUID)))
        except (OSError, AttributeError, pydicom.errors.InvalidDicomError) as exc:
            raise DeliveryError(f"cannot enqueue {f}: not a readable DICOM file ({exc})") from exc
    return refs


class Outbox:
    """The outbox of one node database; destinations and retry policy from ``cfg``."""

    def __init__(self, db_path: str | Path, cfg: SendConfig) -> None:
        self.cfg = cfg
        self.conn = connect(db_path)
        ensure_schema(self.conn, SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def enqueue(self, job_id: str, files: Sequence[str | Path], destination: str,
                now: float | None = None) -> int:
        """Queue ``files`` (one result) for ``destination``; same call twice → same item id."""
        self.cfg.destination(destination)  # KeyError → unknown destination
        paths = [Path(f).resolve() for f in files]
        if not paths:
            raise DeliveryError(f"job {job_id}: nothing to enqueue")
        refs = instance_refs(paths)
        refs_json = json.dumps([r.__dict__ for r in refs], sort_keys=True)
        t = time.time() if now is None else now
        self.conn.execute(
            "INSERT OR IGNORE INTO outbox (job_id, destination, files, refs, state, attempts, "
            "next_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)",
            (job_id, destination, json.dumps([str(p) for p in paths]), refs_json,
             ItemState.PENDING.value, t, t, t),
        )
        row = self.conn.execute(
            "SELECT id FROM outbox WHERE job_id=? AND destination=? AND refs=?",
            (job_id, destination, refs_json)).fetchone()
        return int(row["id"])

    def enqueue_default(self, job_id: str, files: Sequence[str | Path]) -> list[int]:
        names = self.cfg.default_destinations or [d.name for d in self.cfg.destinations]
        return [self.enqueue(job_id, files, n) for n in names]

    # --- processing ------------------------------------------------------------------------
    def process_due(self, now: float | None = None, job_id: str | None = None) -> list[OutboxItem]:
        """Work every item (of ``job_id``, if given) whose ``next_at`` has come; returns the
        items after processing. Items in ``sent`` are confirmed before anything is resent."""
        t = time.time() if now is None else now
        sql = "SELECT id FROM outbox WHERE state IN (?, ?) AND next_at <= ?"
        args: list[object] = [ItemState.PENDING.value, ItemState.SENT.value, t]
        if job_id is not None:
            sql += " AND job_id = ?"
            args.append(job_id)
        rows = self.conn.execute(sql + " ORDER BY next_at, id", args).fetchall()
        return [self._process(int(r["id"]), t) for r in rows if self._claim(int(r["id"]), t)]

    def _claim(self, item_id: int, now: float) -> bool:
        """Take the item for ``CLAIM_S`` (one atomic UPDATE): a second worker (the send stage
        next to the outbox loop) skips it; a worker that dies releases it by the lease running
        out, and the item, then in ``sent`` or ``pending``, is confirmed or sent as usual."""
        cur = self.conn.execute(
            "UPDATE outbox SET next_at=? WHERE id=? AND next_at<=? AND state IN (?, ?)",
            (now + CLAIM_S, item_id, now, ItemState.PENDING.value, ItemState.SENT.value))
        return cur.rowcount == 1

    def _process(self, item_id: int, now: float) -> OutboxItem:
        item = self.get(item_id)
        refs = [InstanceRef(**r) for r in json.loads(self._row(item_id)["refs"])]
        try:
            dest = self.cfg.destination(item.destination)
        except KeyError:
            return self._fail(item, now, f"destination {item.destination!r} no longer configured",
                              dead=True)
        sender = sender_for(dest)
        try:
            if item.state is ItemState.SENT and self.cfg.confirm and not sender.missing(refs):
                return self._delivered(item, now)  # crash after send: it is there, do not resend
            sender.send(list(item.files), refs)
            self._set(item.id, state=ItemState.SENT, updated_at=now)
            if not self.cfg.confirm:
                return self._delivered(item, now)
            absent = sender.missing(refs)
            if absent:
                return self._fail(self.get(item.id), now, f"not confirmed at destination: {absent}")
            return self._delivered(item, now)
        except (DeliveryError, OSError) as exc:
            return self._fail(self.get(item.id), now, f"{type(exc).__name__}: {exc}")

    def _delivered(self, item: OutboxItem, now: float) -> OutboxItem:
        self._set(item.id, state=ItemState.DELIVERED, delivered_at=now, updated_at=now,
                  last_error=None)
        log.info("outbox item %s (job %s) delivered to %s", item.id, item.job_id, item.destination)
        return self.get(item.id)

    def _fail(self, item: OutboxItem, now: float, error: str, dead: bool = False) -> OutboxItem:
        attempts = item.attempts + 1
        policy = self.cfg.retry
        if dead or attempts >= policy.max_attempts:
            self._set(item.id, state=ItemState.DEAD, attempts=attempts, last_error=error,
                      updated_at=now)
            log.error("outbox item %s (job %s) dead after %d attempts: %s",
                      item.id, item.job_id, attempts, error)
        else:
            self._set(item.id, attempts=attempts, last_error=error, updated_at=now,
                      next_at=now + policy.delay(attempts))
            log.warning("outbox item %s (job %s) attempt %d failed: %s",
                        item.id, item.job_id, attempts, error)
        return self.get(item.id)

    def requeue(self, item_id: int, now: float | None = None) -> OutboxItem:
        """Give a dead item a fresh set of attempts (operator action)."""
        t = time.time() if now is None else now
        self._set(item_id, state=ItemState.PENDING, attempts=0, next_at=t, updated_at=t)
        return self.get(item_id)

    # --- reading ---------------------------------------------------------------------------
    def _row(self, item_id: int) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM outbox WHERE id=?", (item_id,)).fetchone()
        if row is None:
            raise KeyError(f"no outbox item {item_id}")
        return row

    def _set(self, item_id: int, **cols: object) -> None:
        cols = {k: (v.value if isinstance(v, ItemState) else v) for k, v in cols.items()}
        sets = ", ".join(f"{k}=?" for k in cols)
        self.conn.execute(f"UPDATE outbox SET {sets} WHERE id=?", (*cols.values(), item_id))

    @staticmethod
    def _item(row: sqlite3.Row) -> OutboxItem:
        return OutboxItem(
            id=row["id"], job_id=row["job_id"], destination=row["destination"],
            files=tuple(Path(f) for f in json.loads(row["files"])),
            sop_uids=tuple(r["sop_uid"] for r in json.loads(row["refs"])),
            state=ItemState(row["state"]), attempts=row["attempts"], next_at=row["next_at"],
            last_error=row["last_error"], delivered_at=row["delivered_at"],
        )

    def get(self, item_id: int) -> OutboxItem:
        return self._item(self._row(item_id))

    def status(self, job_id: str) -> DeliveryStatus:
        rows = self.conn.execute("SELECT * FROM outbox WHERE job_id=? ORDER BY id", (job_id,)).fetchall()
        items = tuple(self._item(r) for r in rows)
        overall: ItemState | None = None
        if items:
            states = {i.state for i in items}
            if ItemState.DEAD in states:
                overall = ItemState.DEAD
            elif states == {ItemState.DELIVERED}:
                overall = ItemState.DELIVERED
            else:
                overall = ItemState.PENDING
        return DeliveryStatus(job_id=job_id, overall=overall, items=items)

    def dead_letters(self) -> list[OutboxItem]:
        rows = self.conn.execute("SELECT * FROM outbox WHERE state=? ORDER BY id",
                                 (ItemState.DEAD.value,)).fetchall()
        return [self._item(r) for r in rows]

    def counts(self) -> dict[str, int]:
        return outbox_counts_conn(self.conn)


def outbox_counts_conn(conn: sqlite3.Connection) -> dict[str, int]:
    counts = {s.value: 0 for s in ItemState if s is not ItemState.SKIPPED}
    for row in conn.execute("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state"):
        counts[row["state"]] = int(row["n"])
    return counts


def outbox_counts(db_path: str | Path) -> dict[str, int]:
    """Items by state, for /metrics (``lipo_node_outbox_items{state=...}``)."""
    conn = connect(db_path)
    try:
        ensure_schema(conn, SCHEMA)
        return outbox_counts_conn(conn)
    finally:
        conn.close()
