"""Worklist and review routes: pages (``/``, ``/review/{job_id}``) and ``/api/review/...``.

Every route needs a login (``CurrentUser`` / ``CurrentPageSession``); POSTs need the CSRF token.
Voxel points arrive as NIfTI indices ``(i, j, k)`` (NiiVue's ``vox`` of the background image,
= ITK ``(x, y, z)``) and are turned into the ``(z, y, x)`` array order here.
"""

from __future__ import annotations

from typing import Annotated

import SimpleITK as sitk  # noqa: N813 (the library's own convention)
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from node import atomic
from node.errors import LipoNodeError
from node.segment.interactive import segment_from_points
from node.worklist import review as rv
from node.worklist.auth import CurrentPageSession, CurrentUser
from node.worklist.deps import ConfigDep, http_error

router = APIRouter(tags=["review"])
NIFTI = "application/gzip"


class PointsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: list[tuple[float, float, float]] = Field(..., min_length=6, max_length=6,
                                                     description="six (i, j, k) NIfTI voxel indices")


class InteractiveOut(BaseModel):
    url: str
    method: str
    model_id: str
    seconds: float
    voxels: int
    box: list[list[int]]


class AcceptOut(BaseModel):
    job_id: str
    score: str
    method: str
    voxels: int
    state: str


@router.get("/", response_class=HTMLResponse)
def worklist_page(request: Request, session: CurrentPageSession, cfg: ConfigDep) -> Response:
    items = rv.worklist(cfg)
    return request.app.state.templates.TemplateResponse(request, "worklist.html", {
        "session": session, "items": items, "proportions": rv.site_proportions(cfg),
    })


@router.get("/review/{job_id}", response_class=HTMLResponse)
def review_page(job_id: str, request: Request, session: CurrentPageSession, cfg: ConfigDep) -> Response:
    try:
        result = rv.load_result(cfg, job_id)
    except LipoNodeError as exc:
        raise http_error(exc) from None
    return request.app.state.templates.TemplateResponse(request, "review.html", {
        "session": session, "job": result, "scores": list(rv.QualityScore),
        "has_mask": rv.job_folder(cfg, job_id).has(rv.MASK_FILE),
    })


@router.get("/api/review/{job_id}/image.nii.gz")
def image(job_id: str, user: CurrentUser, cfg: ConfigDep) -> FileResponse:
    try:
        return FileResponse(rv.ensure_image(cfg, job_id), media_type=NIFTI)
    except LipoNodeError as exc:
        raise http_error(exc) from None


@router.get("/api/review/{job_id}/{name}.nii.gz")
def mask(job_id: str, name: str, user: CurrentUser, cfg: ConfigDep) -> FileResponse:
    files = {"mask": rv.MASK_FILE, "interactive": rv.INTERACTIVE_FILE, "automatic": rv.AUTO_MASK_FILE}
    try:
        path = rv.job_dir(cfg, job_id) / files.get(name, "-")
    except LipoNodeError as exc:
        raise http_error(exc) from None
    if name == "automatic" and not path.is_file():
        path = path.parent / rv.MASK_FILE
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} has no {name} mask")
    return FileResponse(path, media_type=NIFTI, headers={"Cache-Control": "no-store"})


@router.post("/api/review/{job_id}/points", response_model=InteractiveOut)
def points(job_id: str, body: PointsIn, user: CurrentUser, cfg: ConfigDep) -> InteractiveOut:
    """Six extreme points → interactive mask, saved as ``mask_interactive.nii.gz``."""
    try:
        d = rv.job_dir(cfg, job_id)
        img = sitk.ReadImage(str(rv.ensure_image(cfg, job_id)))
        arr = sitk.GetArrayFromImage(img)
        zyx = [(p[2], p[1], p[0]) for p in body.points]
        res = segment_from_points(arr, img.GetSpacing()[::-1], zyx)
    except LipoNodeError as exc:
        raise http_error(exc) from None
    out = sitk.GetImageFromArray(res.mask)
    out.CopyInformation(img)
    atomic.write_image(d / rv.INTERACTIVE_FILE, out)
    return InteractiveOut(url=f"/api/review/{job_id}/interactive.nii.gz", method=res.method.value,
                          model_id=res.model_id, seconds=round(res.seconds, 3),
                          voxels=int(res.mask.sum()), box=[list(res.box.lo), list(res.box.hi)])


@router.post("/api/review/{job_id}/accept", response_model=AcceptOut)
async def accept(job_id: str, user: CurrentUser, cfg: ConfigDep,
                 score: Annotated[rv.QualityScore, Form()], method: Annotated[rv.SegMethod, Form()],
                 mask: Annotated[UploadFile | None, File()] = None) -> AcceptOut:
    """Accept the mask on screen with a quality score; resumes the job (amended SEG/SR)."""
    from starlette.concurrency import run_in_threadpool

    data = await mask.read() if mask is not None else None

    def work() -> AcceptOut:
        reference = sitk.ReadImage(str(rv.ensure_image(cfg, job_id)))
        image = rv.read_mask_like(data, reference) if data else None
        review = rv.accept_correction(cfg, job_id, image, score, method, user.name)
        state = rv.load_result(cfg, job_id).state
        return AcceptOut(job_id=job_id, score=review.score.value, method=review.method.value,
                         voxels=review.voxels, state=state.value)

    try:
        return await run_in_threadpool(work)
    except LipoNodeError as exc:
        raise http_error(exc) from None
