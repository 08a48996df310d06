"""The human fallback of T1 selection: a reviewer sees every series and picks the one to segment.

A study reaches the worklist without a usable automatic choice when no series qualified
(``no_t1_series`` is in ``jobs.review_codes``) or when the choice was close (QC reason
``selection_uncertain``). :func:`pick_series` records the reviewer's pick as
``selection.method = "manual"`` and reopens the job at ``segment`` with ``select`` counted as
done, so the runner segments the picked series and reports it; the SR then carries the
qualitative evaluation "T1 series picked by a reviewer" (node.report.sr).
"""

from __future__ import annotations

import io

import numpy as np

from node import atomic
from node.config import NodeConfig
from node.jobs.model import JobResult, JobState, QcOutcome
from node.jobs.pipeline import JobContext
from node.select.record import Selection, SeriesScoreOut
from node.worklist.review import (
    AUTO_MASK_FILE,
    IMAGE_FILE,
    INTERACTIVE_FILE,
    MASK_FILE,
    ReviewError,
    job_dir,
    job_folder,
    load_result,
)

THUMBS = "thumbs"
THUMB_PX = 160
_PICKABLE = (JobState.NEEDS_REVIEW, JobState.DELIVERED)


def needs_pick(result: JobResult) -> bool:
    """The worklist offers the series picker first: no T1 qualified, or the choice was close."""
    return result.error_code == "no_t1_series" or "selection_uncertain" in result.qc.reason_codes or (
        result.selection is not None and result.selection.method == "none")


def series_table(cfg: NodeConfig, job_id: str) -> tuple[JobResult, list[SeriesScoreOut]]:
    """Every series of the study with score, reasons and TR/TE/TI (from the select stage; a series
    that arrived later or a job without a recorded selection is scored now)."""
    result = load_result(cfg, job_id)
    if result.selection is not None and result.selection.series:
        return result, list(result.selection.series)
    from node.select.rules import score_study

    ctx = JobContext(job_id, job_dir(cfg, job_id), cfg, result)
    return result, [s.record() for s in score_study(ctx.study, cfg.select.rules)]


def thumbnail(cfg: NodeConfig, job_id: str, series_uid: str) -> bytes:
    """PNG of the series' middle image (percentile window), cached in the job folder."""
    d = job_dir(cfg, job_id)
    cache = d / THUMBS / f"{series_uid}.png"
    if cache.is_file():
        return cache.read_bytes()
    import pydicom
    from PIL import Image

    ctx = JobContext(job_id, d, cfg, load_result(cfg, job_id))
    hdr = ctx.study.series.get(series_uid)
    if hdr is None or not hdr.paths:
        raise ReviewError(f"job {job_id}: no series {series_uid}")
    images = [p for p in hdr.paths if p.is_file()]
    ds = pydicom.dcmread(str(images[len(images) // 2]))
    try:
        arr = np.asarray(ds.pixel_array, dtype=np.float32)
    except (AttributeError, ValueError, TypeError) as exc:
        raise ReviewError(f"series {series_uid} has no displayable pixels: {exc}") from None
    if arr.ndim == 3:  # Enhanced MR: middle frame
        arr = arr[arr.shape[0] // 2]
    lo, hi = np.percentile(arr, [1, 99]) if arr.size else (0.0, 1.0)
    img = Image.fromarray(np.clip((arr - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8))
    img.thumbnail((THUMB_PX, THUMB_PX))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    cache.parent.mkdir(exist_ok=True)
    atomic.write_bytes(cache, buf.getvalue())
    return buf.getvalue()


def pick_series(cfg: NodeConfig, job_id: str, series_uid: str, user: str) -> JobResult:
    """Record ``user``'s pick and resume the job at segmentation (see module docstring)."""
    from node.jobs.control import reopen_job

    d = job_dir(cfg, job_id)
    result, table = series_table(cfg, job_id)
    if result.state not in _PICKABLE:
        raise ReviewError(f"job {job_id} is {result.state}: a series can be picked only while it "
                          "waits for review or after delivery")
    row = next((s for s in table if s.series_uid == series_uid), None)
    ctx = JobContext(job_id, d, cfg, result)
    hdr = ctx.study.series.get(series_uid)
    if row is None or hdr is None:
        raise ReviewError(f"job {job_id}: no series {series_uid} in the study")
    if hdr.modality not in ("MR", "") or hdr.n_images < 3:
        raise ReviewError(f"series {hdr.description!r} is not an MR image series with >= 3 images "
                          f"({hdr.modality or 'no modality'}, {hdr.n_images} images)")
    result.supersede_reported()  # a delivered result is replaced by the one from the picked series
    result.series_uid = series_uid
    result.selection = Selection(
        series_uid=series_uid, description=hdr.description, score=row.score or 0.0, margin=0.0,
        uncertain=False, reasons=[f"picked by {user} in the worklist", *row.reasons], series=table,
        method="manual", picked_by=user)
    result.warnings = [w for w in result.warnings if w != "selection_uncertain"]
    result.qc = QcOutcome()
    for name in (IMAGE_FILE, MASK_FILE, AUTO_MASK_FILE, INTERACTIVE_FILE):  # they show the old series
        (d / name).unlink(missing_ok=True)
    for key in ("image", "mask"):
        result.artefacts.pop(key, None)
    job_folder(cfg, job_id).save_result(result)
    return reopen_job(cfg, job_id, "segment", done=["select"])


__all__ = ["needs_pick", "pick_series", "series_table", "thumbnail"]
