"""The node's FastAPI application, built from config (never at import time; STYLE.md #9).

Routers: ``/healthz`` and ``/metrics`` (open, for probes and Prometheus) and ``/api/...``
(jobs now; the worklist adds review routes). ``api_dependencies`` guards every ``/api`` route,
which is where the login helper plugs its ``current_user`` dependency in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.params import Depends

from node import __version__
from node.config import NodeConfig
from node.jobs.jobdb import JobDB
from node.worklist.routes import health, jobs, metrics


def api_router(dependencies: Sequence[Depends] = ()) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=list(dependencies))
    router.include_router(jobs.router)
    return router


def create_app(cfg: NodeConfig, api_dependencies: Sequence[Depends] = (), **kwargs: Any) -> FastAPI:
    JobDB(cfg.db_path).close()  # create the job tables so /api works before the first job
    app = FastAPI(title="lipo-node", version=__version__, **kwargs)
    app.state.cfg = cfg
    app.state.metrics_registry = metrics.build_registry(cfg.db_path)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(api_router(api_dependencies))
    return app
