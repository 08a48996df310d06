"""``lipo-node worker``: a Celery worker that runs job stages from the given queues.

It loads the same config as ``serve`` (``--config`` + ``LIPO_NODE_...``), so broker, stage list
and ``data_dir`` (the shared spool, SQLite file and job folders) agree with the dispatcher.
One process per concurrency slot (prefork); on a GPU host run ``--queues gpu --concurrency 1``
(one model in GPU memory per process), on CPU hosts ``--queues cpu`` with one per core or two.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Sequence

from node.config import NodeConfig
from node.errors import ConfigError
from node.jobs.celery_app import make_celery, queues_of
from node.jobs.pipeline import Pipeline


def worker_argv(queues: Sequence[str], concurrency: int, loglevel: str, hostname: str) -> list[str]:
    return ["worker", "--queues", ",".join(queues), "--concurrency", str(concurrency),
            "--pool", "prefork", "--loglevel", loglevel, "--hostname", hostname,
            "--without-gossip", "--without-mingle", "--without-heartbeat"]


def run_worker(cfg: NodeConfig, queues: Sequence[str] | None = None, concurrency: int = 1,
               include: Sequence[str] = (), hostname: str | None = None) -> int:
    """Consume ``queues`` (default: every queue of the configured pipeline) until SIGTERM.

    ``include`` names modules imported first, e.g. a site's own ``register_stage`` calls.
    The configured stages are checked before consuming, so a worker with an unknown stage in
    ``jobs.stages`` fails at start, not on its first job.
    """
    for module in include:
        importlib.import_module(module)
    Pipeline.from_names(cfg.jobs.stages)  # StageNotRegistered now rather than per task
    chosen = list(queues) if queues else queues_of(cfg)
    if not chosen or any(not q or "," in q for q in chosen):
        raise ConfigError(f"worker queues {chosen!r}: give names like gpu,cpu")
    cfg.jobs_dir.mkdir(parents=True, exist_ok=True)
    app = make_celery(cfg)
    name = hostname or f"lipo-{'-'.join(chosen)}-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(worker_argv(chosen, concurrency, cfg.logging.level, name))
    return 0
