"""The node's FastAPI application, built from config (never at import time; STYLE.md #9).

Routers: ``/healthz`` and ``/metrics`` (open, for probes and Prometheus) and ``/api/...``
(jobs now; the worklist adds review routes). ``api_dependencies`` guards every ``/api`` route,
which is where the login helper plugs its ``current_user`` dependency in. No OpenAPI docs are
served, and every response carries the security headers of node.worklist.security.
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
from node.worklist.security import LoginThrottle, SecurityHeaders


def api_router(dependencies: Sequence[Depends] = ()) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=list(dependencies))
    router.include_router(jobs.router)
    return router


def create_app(cfg: NodeConfig, api_dependencies: Sequence[Depends] = (), **kwargs: Any) -> FastAPI:
    JobDB(cfg.db_path).close()  # create the job tables so /api works before the first job
    # no public API docs: /docs, /redoc and /openapi.json describe every route to anyone
    for key in ("docs_url", "redoc_url", "openapi_url"):
        kwargs.setdefault(key, None)
    app = FastAPI(title="lipo-node", version=__version__, **kwargs)
    app.add_middleware(SecurityHeaders)
    app.state.cfg = cfg
    app.state.login_throttle = LoginThrottle()
    app.state.metrics_registry = metrics.build_registry(cfg.db_path)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(api_router(api_dependencies))
    return app
