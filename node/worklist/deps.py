"""FastAPI dependencies as ``Annotated`` aliases (STYLE.md #9).

A later login helper adds e.g. ``CurrentUser`` here and passes it to ``create_app(cfg,
api_dependencies=[Depends(current_user)])``; routes need no change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from node.config import NodeConfig
from node.errors import LipoNodeError
from node.jobs.jobdb import JobDB


def get_cfg(request: Request) -> NodeConfig:
    return request.app.state.cfg  # type: ignore[no-any-return]


def get_job_db(request: Request) -> Iterator[JobDB]:
    db = JobDB(request.app.state.cfg.db_path)
    try:
        yield db
    finally:
        db.close()


ConfigDep = Annotated[NodeConfig, Depends(get_cfg)]
JobDBDep = Annotated[JobDB, Depends(get_job_db)]


def http_error(exc: LipoNodeError) -> HTTPException:
    """A review/pick failure as the HTTP answer a reviewer's page can show: 404 for an unknown job,
    422 for a request the job's state refuses, the error code first."""
    code = status.HTTP_404_NOT_FOUND if str(exc).startswith("no job") else 422
    return HTTPException(code, f"{exc.code}: {exc}")
