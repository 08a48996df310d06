"""Retention: processed studies do not stay on the node forever.

A job that is *finished* (delivered or failed) and older than ``store.retention_days`` — or any
finished job, oldest first, while free space is below ``store.cleanup_free_bytes`` — loses its
spool copy (files and index rows, through :meth:`Store.remove_study`) and its bulky job files
(images, masks, probabilities). ``result.json``, the SEG/SR it sent, the job row and the audit
trail stay (:data:`~node.jobs.folder.KEEP_AFTER_RETENTION`): the PACS holds the images, the
node keeps what it said about them. Jobs waiting for review or still running are never touched.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from node.config import NodeConfig
from node.jobs.folder import KEEP_AFTER_RETENTION, JobFolder
from node.jobs.jobdb import JobDB
from node.jobs.model import JobState
from node.store import Store

log = logging.getLogger(__name__)

FINISHED = (JobState.DELIVERED, JobState.FAILED)


@dataclass
class CleanupReport:
    jobs: list[str] = field(default_factory=list)
    instances: int = 0
    bytes_freed: int = 0


def _free_bytes(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free


def _slim_job_folder(folder: JobFolder, report: CleanupReport, dry_run: bool) -> None:
    if not folder.path.is_dir():
        return
    keep = {str(a) for a in KEEP_AFTER_RETENTION}
    for child in folder.path.iterdir():
        if child.name in keep:
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
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    try:
        for row in finished:
            expired = row.updated_at.timestamp() < cutoff
            short = _free_bytes(cfg.data_dir) < cfg.store.cleanup_free_bytes
            if not (expired or short):
                continue
            instances, size = store.remove_study(row.study_uid, dry_run=dry_run)
            report.instances += instances
            report.bytes_freed += size
            _slim_job_folder(JobFolder.of(cfg, row.job_id), report, dry_run)
            report.jobs.append(row.job_id)
    finally:
        store.close()
    return report


def retention_loop(cfg: NodeConfig, stop: threading.Event, every_s: float = 3600.0) -> None:
    """``serve``'s housekeeping thread: :func:`cleanup` every ``every_s`` until ``stop``."""
    while not stop.wait(every_s):
        try:
            report = cleanup(cfg)
            if report.jobs:
                log.info("retention: %d job(s) cleaned, %.1f MB freed", len(report.jobs),
                         report.bytes_freed / 1e6)
        except Exception:  # never take the node down for housekeeping
            log.exception("retention clean-up failed")
