"""The ``jobs`` and ``job_stage_runs`` tables (in the node's one SQLite file, node.store.db).

The job row is the runner's index (state, attempts, when it may run again); ``result.json`` in
the job folder is the full record. Each completed stage is written to ``result.json`` first and
to the row second, so after a crash the row is never ahead of the folder; the runner re-reads
``result.json`` when it resumes. ``job_stage_runs`` keeps one row per stage execution; the
``/metrics`` stage-duration histogram is computed from it at scrape time so every process
(server, workers) reports the same numbers.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from node.jobs.model import JobState
from node.store.db import connect, ensure_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    study_uid TEXT NOT NULL,
    series_uid TEXT,
    state TEXT NOT NULL,
    source_dir TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL DEFAULT 0,
    error_code TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_study ON jobs(study_uid);
CREATE TABLE IF NOT EXISTS job_stage_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    started_at REAL NOT NULL,
    seconds REAL NOT NULL,
    ok INTEGER NOT NULL,
    error_code TEXT
);
CREATE INDEX IF NOT EXISTS job_stage_runs_stage ON job_stage_runs(stage);
"""


def job_id_for(study_uid: str) -> str:
    """Deterministic id: one job per study (a re-sent study finds its job, never a twin)."""
    return "j" + hashlib.sha256(study_uid.encode("ascii", "replace")).hexdigest()[:15]


@dataclass(frozen=True)
class JobRow:
    job_id: str
    study_uid: str
    series_uid: str | None
    state: JobState
    source_dir: str | None
    created_at: datetime
    updated_at: datetime
    attempts: int
    not_before: float
    error_code: str | None
    finished: bool


class JobDB:
    """Thread-safe access to the job tables (one connection, one lock)."""

    def __init__(self, db_path: Path) -> None:
        self._conn: sqlite3.Connection = connect(db_path)
        ensure_schema(self._conn, SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _row(self, r: sqlite3.Row) -> JobRow:
        return JobRow(
            r["job_id"], r["study_uid"], r["series_uid"], JobState(r["state"]), r["source_dir"],
            datetime.fromtimestamp(r["created_at"], UTC), datetime.fromtimestamp(r["updated_at"], UTC),
            r["attempts"], r["not_before"], r["error_code"], bool(r["finished"]),
        )

    def create(self, study_uid: str, *, source_dir: str | None = None, job_id: str | None = None) -> bool:
        """Insert a job in state ``received``; False if the study already has one."""
        now = time.time()
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO jobs(job_id, study_uid, state, source_dir, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (job_id or job_id_for(study_uid), study_uid, str(JobState.RECEIVED), source_dir, now, now),
            )
        return cur.rowcount == 1

    def get(self, job_id: str) -> JobRow | None:
        with self._lock:
            r = self._conn.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        return self._row(r) if r else None

    def jobs_by_study(self) -> dict[str, JobRow]:
        """The newest job of every study (late-data checks look at that one)."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM jobs ORDER BY created_at").fetchall()
        return {r["study_uid"]: self._row(r) for r in rows}

    def list(self, state: JobState | None = None, limit: int = 500) -> list[JobRow]:
        where, args = ("WHERE state=?", (str(state),)) if state else ("", ())
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM jobs {where} ORDER BY created_at DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [self._row(r) for r in rows]

    def runnable(self, now: float | None = None) -> list[JobRow]:
        """Unfinished, non-terminal jobs whose back-off has passed, oldest first."""
        terminal = [str(s) for s in JobState if s.terminal]
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM jobs WHERE state NOT IN ({','.join('?' * len(terminal))})"
                " AND finished=0 AND not_before <= ? ORDER BY created_at",
                (*terminal, now if now is not None else time.time()),
            ).fetchall()
        return [self._row(r) for r in rows]

    def update(self, job_id: str, *, state: JobState, series_uid: str | None = None,
               error_code: str | None = None, not_before: float = 0.0, finished: bool = False) -> None:
        """Set the job's state; ``finished`` marks every configured stage done (not runnable)."""
        with self._lock:
            self._conn.execute(
                "UPDATE jobs SET state=?, series_uid=COALESCE(?, series_uid), error_code=?,"
                " not_before=?, finished=?, updated_at=? WHERE job_id=?",
                (str(state), series_uid, error_code, not_before, int(finished), time.time(), job_id),
            )

    def reopen(self, job_id: str, state: JobState) -> None:
        """Make a finished / needs_review job runnable again from ``state`` (e.g. after review);
        the caller removes the stages to redo from ``result.json``'s ``completed_stages``."""
        self.update(job_id, state=state, finished=False)

    def clear_attempts(self, job_id: str) -> None:
        """The dispatch ended cleanly and the job only waits (e.g. on the outbox): the crash
        counter that ``add_attempt`` feeds starts again."""
        with self._lock:
            self._conn.execute("UPDATE jobs SET attempts=0 WHERE job_id=?", (job_id,))

    def add_attempt(self, job_id: str) -> int:
        with self._lock:
            self._conn.execute("UPDATE jobs SET attempts=attempts+1 WHERE job_id=?", (job_id,))
            r = self._conn.execute("SELECT attempts FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        return int(r[0]) if r else 0

    def record_run(self, job_id: str, stage: str, started_at: float, seconds: float,
                   ok: bool, error_code: str | None = None) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO job_stage_runs(job_id, stage, started_at, seconds, ok, error_code)"
                " VALUES (?,?,?,?,?,?)", (job_id, stage, started_at, seconds, int(ok), error_code),
            )

    def stage_runs(self, job_id: str | None = None) -> list[sqlite3.Row]:
        where, args = ("WHERE job_id=?", (job_id,)) if job_id else ("", ())
        with self._lock:
            return self._conn.execute(
                f"SELECT job_id, stage, seconds, ok, error_code FROM job_stage_runs {where} ORDER BY id",
                args,
            ).fetchall()

    def counts_by_state(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {r[0]: r[1] for r in rows}
