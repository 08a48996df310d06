"""Series picker routes: ``/series/{job_id}`` (page), its thumbnails, and the pick itself
(``POST /api/review/{job_id}/series`` for scripts, ``POST /series/{job_id}`` for the page's
forms, which redirects back to the worklist). See :mod:`node.worklist.pick`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from node.errors import LipoNodeError
from node.worklist import pick
from node.worklist.auth import CurrentPageSession, CurrentUser
from node.worklist.deps import ConfigDep, http_error

router = APIRouter(tags=["series"])


class PickIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    series_uid: str


class PickOut(BaseModel):
    job_id: str
    series_uid: str
    selection: str
    state: str


@router.get("/series/{job_id}", response_class=HTMLResponse)
def series_page(job_id: str, request: Request, session: CurrentPageSession, cfg: ConfigDep) -> Response:
    try:
        result, table = pick.series_table(cfg, job_id)
    except LipoNodeError as exc:
        raise http_error(exc) from None
    return request.app.state.templates.TemplateResponse(request, "series.html", {
        "session": session, "job": result, "series": table,
        "chosen": result.series_uid if result.selection and result.selection.method != "none" else None,
    })


@router.get("/api/review/{job_id}/series/{series_uid}/thumb.png")
def series_thumbnail(job_id: str, series_uid: str, user: CurrentUser, cfg: ConfigDep) -> Response:
    try:
        return Response(pick.thumbnail(cfg, job_id, series_uid), media_type="image/png")
    except LipoNodeError as exc:
        raise http_error(exc) from None


@router.post("/api/review/{job_id}/series", response_model=PickOut)
def pick_api(job_id: str, body: PickIn, user: CurrentUser, cfg: ConfigDep) -> PickOut:
    try:
        result = pick.pick_series(cfg, job_id, body.series_uid, user.name)
    except LipoNodeError as exc:
        raise http_error(exc) from None
    return PickOut(job_id=job_id, series_uid=body.series_uid, selection="manual", state=result.state.value)


@router.post("/series/{job_id}")
def pick_form(job_id: str, user: CurrentUser, cfg: ConfigDep,
              series_uid: Annotated[str, Form()]) -> RedirectResponse:
    try:
        pick.pick_series(cfg, job_id, series_uid, user.name)
    except LipoNodeError as exc:
        raise http_error(exc) from None
    return RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
