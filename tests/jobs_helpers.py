"""Test stages for the job pipeline (importable in spawned worker processes: tests/ is on sys.path).

Each stage appends its name to ``calls.log`` in the job folder, so a test can count how often
a stage really ran across crashes and restarts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pydicom

from node.config import NodeConfig, load_config
from node.errors import DeliveryError
from node.jobs.errors import NeedsReview
from node.jobs.model import JobState
from node.jobs.pipeline import JobContext, register_stage
from node.store import Store


class SimulatedCrash(BaseException):
    """Escapes ``except Exception`` like a process death would."""


def calls(job_dir: Path) -> list[str]:
    log = job_dir / "calls.log"
    return log.read_text().split() if log.exists() else []


def _note(ctx: JobContext, name: str) -> int:
    ctx.job_dir.mkdir(parents=True, exist_ok=True)
    with open(ctx.job_dir / "calls.log", "a") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return calls(ctx.job_dir).count(name)


def mark_stage(ctx: JobContext) -> None:
    _note(ctx, "mark")
    (ctx.job_dir / "mark.txt").write_text(str(len(ctx.series_paths())))
    ctx.result.artefacts["mark"] = "mark.txt"


def slow_stage(ctx: JobContext) -> None:
    """First run: tell the test our pid and hang (the test SIGKILLs us). Later runs: finish."""
    if _note(ctx, "slow") == 1:
        (ctx.job_dir / "slow.pid").write_text(str(os.getpid()))
        time.sleep(60)


def crash_once_stage(ctx: JobContext) -> None:
    if _note(ctx, "crash_once") == 1:
        raise SimulatedCrash("power cut")


def after_stage(ctx: JobContext) -> None:
    _note(ctx, "after")
    ctx.result.volume_ml = 12.5


def review_stage(ctx: JobContext) -> None:
    _note(ctx, "review")
    raise NeedsReview("qc failed: mask touches the field-of-view border")


def flaky_stage(ctx: JobContext) -> None:
    _note(ctx, "flaky")
    raise DeliveryError("PACS refused the association")


register_stage("t_mark", JobState.SEGMENTED, "jobs_helpers:mark_stage")
register_stage("t_slow", JobState.QC, "jobs_helpers:slow_stage")
register_stage("t_crash_once", JobState.QC, "jobs_helpers:crash_once_stage")
register_stage("t_after", JobState.FEATURES, "jobs_helpers:after_stage")
register_stage("t_review", JobState.QC, "jobs_helpers:review_stage")
register_stage("t_flaky", JobState.DELIVERED, "jobs_helpers:flaky_stage")


def node_cfg(data_dir: Path, stages: list[str], **jobs: Any) -> NodeConfig:
    return load_config(
        None, data_dir=str(data_dir),
        jobs={"stages": stages, "workers": 1, "poll_interval_s": 0.1, "retry_backoff_s": 0, **jobs},
        select={"quiet_s": 0.0, "max_wait_s": 5.0}, store={"min_free_bytes": 0},
    )


def store_folder(store: Store, folder: Path) -> int:
    """Ingest every DICOM file under ``folder`` through the real Store (as the SCP does)."""
    n = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path)
        except pydicom.errors.InvalidDicomError:
            continue
        store.store_instance(ds, transfer_syntax=ds.file_meta.TransferSyntaxUID,
                             calling_ae="STORESCU", raw=path.read_bytes())
        n += 1
    return n
