"""Sub-commands ``run``, ``worker`` and ``jobs list|show|reopen`` (thin: parse, call)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from node.config import NodeConfig, load_config
from node.jobs.errors import JobNotFound
from node.jobs.folder import JobFolder
from node.jobs.jobdb import JobDB
from node.jobs.model import JobState
from node.logs import setup_logging


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="process a folder of DICOM files offline, print result.json")
    p.add_argument("study_dir", type=Path)
    p.add_argument("--out", type=Path, default=None,
                   help="data folder for the job (database + jobs/); default: config's data_dir")
    p.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    p.set_defaults(func=_run)

    p = sub.add_parser("worker", help="Celery worker running job stages (jobs.runner: celery)")
    p.add_argument("--queues", default=None,
                   help="comma-separated queues, e.g. gpu or cpu (default: all the pipeline uses)")
    p.add_argument("--concurrency", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--include", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (a site's own register_stage calls); repeatable")
    p.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    p.set_defaults(func=_worker)

    p = sub.add_parser("jobs", help="list jobs or show one job's result.json")
    jsub = p.add_subparsers(dest="jobs_command", required=True)
    lp = jsub.add_parser("list", help="jobs, newest first")
    lp.add_argument("--state", choices=[s.value for s in JobState], default=None)
    lp.add_argument("--limit", type=int, default=100)
    lp.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    lp.set_defaults(func=_list)
    sp = jsub.add_parser("show", help="print a job's result.json")
    sp.add_argument("job_id")
    sp.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    sp.set_defaults(func=_show)
    rp = jsub.add_parser("reopen", help="run a job again from a stage (after review or a fix)")
    rp.add_argument("job_id")
    rp.add_argument("--from", dest="redo_from", required=True, help="first stage to run again")
    rp.add_argument("--done", nargs="*", default=[], help="stages to record as done without running")
    rp.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    rp.set_defaults(func=_reopen)


def _cfg(args: argparse.Namespace, *, logs: bool = False) -> NodeConfig:
    cfg = load_config(getattr(args, "config", None))
    if logs:  # long-running commands only; list/show print and leave logging alone
        setup_logging(cfg.logging.level, cfg.logging.json_lines,
                      str(cfg.logging.file) if cfg.logging.file else None)
    return cfg


def _worker(args: argparse.Namespace) -> int:
    from node.jobs.worker import run_worker

    queues = [q.strip() for q in args.queues.split(",")] if args.queues else None
    return run_worker(_cfg(args, logs=True), queues, args.concurrency, args.include)


def _run(args: argparse.Namespace) -> int:
    from node.jobs.control import run_folder

    cfg = _cfg(args, logs=True)
    if args.out is not None:
        cfg = cfg.model_copy(update={"data_dir": args.out.resolve()})
    path, result = run_folder(cfg, args.study_dir)
    print(path)
    return 1 if result.state is JobState.FAILED else 0


def _list(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    db = JobDB(cfg.db_path)
    try:
        rows = db.list(JobState(args.state) if args.state else None, args.limit)
    finally:
        db.close()
    print(f"{'job_id':<17} {'state':<13} {'updated (UTC)':<20} {'error':<20} study_uid")
    for r in rows:
        print(f"{r.job_id:<17} {r.state.value:<13} {r.updated_at:%Y-%m-%d %H:%M:%S}  "
              f"{r.error_code or '-':<20} {r.study_uid}")
    return 0


def _show(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    folder = JobFolder.of(cfg, args.job_id)
    if "/" in args.job_id or not folder.has_result():
        raise JobNotFound(f"no job {args.job_id!r} under {cfg.jobs_dir}")
    print(json.dumps(folder.read_result().model_dump(mode="json"), indent=2))
    return 0


def _reopen(args: argparse.Namespace) -> int:
    from node.jobs.control import reopen_job

    result = reopen_job(_cfg(args), args.job_id, args.redo_from, args.done)
    print(f"{result.job_id} reopened in state {result.state.value}; "
          f"completed: {', '.join(result.completed_stages) or '-'}")
    return 0
