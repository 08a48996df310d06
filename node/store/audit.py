"""Append one audit row from a process part that holds no :class:`~node.store.Store` (the
worklist web app records its logins here, in the same ``audit`` table as associations)."""

from __future__ import annotations

from pathlib import Path

from node.store.db import connect, ensure_schema
from node.store.store import SCHEMA, AuditEvent


def append_audit(db_path: Path, event: AuditEvent) -> None:
    conn = connect(db_path)
    try:
        ensure_schema(conn, SCHEMA)
        conn.execute(
            "INSERT INTO audit(at, kind, result, calling_ae, called_ae, host, instances, bytes,"
            " status, sop_instance_uid, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (event.at.timestamp(), str(event.kind), str(event.result), event.calling_ae,
             event.called_ae, event.host, event.instances, event.bytes, event.status,
             event.sop_instance_uid, event.detail),
        )
    finally:
        conn.close()
