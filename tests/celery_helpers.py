"""Stages for the Celery tests (imported by ``lipo-node worker --include celery_helpers``).

``tc_gpu`` and ``tc_cpu`` are deterministic functions of the selected series, so the local and
the Celery runner must agree on them; each also appends ``<stage> <worker>`` to ``ran_on.log``
(``LIPO_WORKER_NAME``, "local" in the test process) so a test sees which queue's worker ran it.
``tc_slow`` hangs on its first run so a test can kill the worker process running it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from node.jobs.model import JobState
from node.jobs.pipeline import JobContext, register_stage


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def ran_on(job_dir: Path) -> dict[str, list[str]]:
    """stage → workers that ran it, in order."""
    out: dict[str, list[str]] = {}
    log = job_dir / "ran_on.log"
    for line in (log.read_text().splitlines() if log.exists() else []):
        stage, worker = line.split()
        out.setdefault(stage, []).append(worker)
    return out


def _note(ctx: JobContext, stage: str) -> int:
    _append(ctx.job_dir / "ran_on.log", f"{stage} {os.environ.get('LIPO_WORKER_NAME', 'local')}")
    return ran_on(ctx.job_dir)[stage].__len__()


def gpu_stage(ctx: JobContext) -> None:
    _note(ctx, "tc_gpu")
    paths = ctx.series_paths()
    ctx.result.volume_ml = float(len(paths)) + sum(p.stat().st_size for p in paths) / 1e9
    ctx.result.artefacts["tc_gpu"] = "ran_on.log"


def cpu_stage(ctx: JobContext) -> None:
    _note(ctx, "tc_cpu")
    ctx.result.qc.status = "pass" if (ctx.result.volume_ml or 0) > 10 else "warn"
    ctx.result.qc.reason_codes = [] if ctx.result.qc.status == "pass" else ["small_series"]


def slow_stage(ctx: JobContext) -> None:
    if _note(ctx, "tc_slow") == 1:
        (ctx.job_dir / "slow.pid").write_text(str(os.getpid()))
        time.sleep(60)


register_stage("tc_gpu", JobState.SEGMENTED, "celery_helpers:gpu_stage")
register_stage("tc_cpu", JobState.QC, "celery_helpers:cpu_stage")
register_stage("tc_slow", JobState.QC, "celery_helpers:slow_stage")
