"""FastAPI dependencies as ``Annotated`` aliases (STYLE.md #9).

A later login helper adds e.g. ``CurrentUser`` here and passes it to ``create_app(cfg,
api_dependencies=[Depends(current_user)])``; routes need no change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from node.config import NodeConfig
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
