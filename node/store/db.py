"""The node's SQLite database: one file, WAL mode, each module owns its tables.

Modules declare ``SCHEMA`` DDL (``CREATE TABLE IF NOT EXISTS ...``) and call
:func:`ensure_schema` once when they open the database, so no central migration list has to
know every table. Connections are per thread (sqlite3 objects are not shared across threads).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: str | Path, *, timeout_s: float = 30.0) -> sqlite3.Connection:
    """Open the database with settings every writer must share (WAL, FULL sync, FKs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed index row survives power loss, matching the ack-after-fsync contract
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    return conn


def ensure_schema(conn: sqlite3.Connection, ddl: str) -> None:
    conn.executescript(ddl)
