"""Retention: processed studies do not stay on the node forever.

A job that is *finished* (delivered or failed) and older than ``store.retention_days`` — or any
finished job, oldest first, while free space is below ``store.cleanup_free_bytes`` — loses its
spool copy (files and index rows) and its bulky job files (images, masks, probabilities).
``result.json``, the SEG/SR it sent, the job row and the audit trail stay: the PACS holds the
images, the node keeps what it said about them. Jobs waiting for review or still running are
never touched.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from node.config import NodeConfig
from node.jobs.jobdb import JobDB
from node.jobs.model import JobState
from node.store.db import connect

FINISHED = (JobState.DELIVERED, JobState.FAILED)
KEEP = ("result.json", "report", "qc.json", "segment.json", "features.json")


@dataclass
class CleanupReport:
    jobs: list[str] = field(default_factory=list)
    instances: int = 0
    bytes_freed: int = 0


def _free_bytes(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free


def _remove_study(cfg: NodeConfig, study_uid: str, report: CleanupReport, dry_run: bool) -> None:
    conn = connect(cfg.db_path)
    try:
        rows = conn.execute("SELECT path, size FROM instances WHERE study_uid=?", (study_uid,)).fetchall()
        for row in rows:
            report.instances += 1
            report.bytes_freed += int(row["size"])
            if not dry_run:
                (cfg.spool_dir / row["path"]).unlink(missing_ok=True)
        if not dry_run:
            conn.execute("DELETE FROM instances WHERE study_uid=?", (study_uid,))
    finally:
        conn.close()


def _slim_job_dir(job_dir: Path, report: CleanupReport, dry_run: bool) -> None:
    if not job_dir.is_dir():
        return
    for child in job_dir.iterdir():
        if child.name in KEEP:
            continue
        size = sum(p.stat().st_size for p in child.rglob("*") if p.is_file()) if child.is_dir() \
            else child.stat().st_size
        report.bytes_freed += size
        if not dry_run:
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def cleanup(cfg: NodeConfig, *, now: float | None = None, dry_run: bool = False) -> CleanupReport:
    now = time.time() if now is None else now
    cutoff = now - cfg.store.retention_days * 86400
    report = CleanupReport()
    db = JobDB(cfg.db_path)
    try:
        finished = sorted((r for r in db.list(limit=1_000_000) if r.state in FINISHED),
                          key=lambda r: r.updated_at)
    finally:
        db.close()
    for row in finished:
        expired = row.updated_at.timestamp() < cutoff
        short = _free_bytes(cfg.data_dir) < cfg.store.cleanup_free_bytes
        if not (expired or short):
            continue
        _remove_study(cfg, row.study_uid, report, dry_run)
        _slim_job_dir(cfg.jobs_dir / row.job_id, report, dry_run)
        report.jobs.append(row.job_id)
    return report
