"""``/healthz``: liveness plus a database round trip (a node that cannot write jobs is not ok)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict

from node import __version__
from node.worklist.deps import JobDBDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str
    version: str
    database: bool


@router.get("/healthz", response_model=Health)
def healthz(db: JobDBDep, response: Response) -> Health:
    try:
        db.counts_by_state()
        ok = True
    except Exception:
        ok = False
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if ok else "degraded", version=__version__, database=ok)
