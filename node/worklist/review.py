"""Review records, the worklist query and closing the loop (``accept_correction``).

The paper scored every automatic segmentation on four levels (Excellent, Sufficient,
Insufficient, Incorrect; the last two are "unsatisfactory" and send the case to the interactive
model, then to manual editing) and recorded which method produced the final mask (automatic /
interactive / manual). Both are kept per job in ``reviews`` (one row per accepted review, the
latest wins) and copied into ``result.json`` (``quality_score``, ``seg_method``).

Accepting writes the mask into the job folder (the segment stage's ``mask.nii.gz``; the first
automatic mask is kept as ``mask_automatic.nii.gz``), copies image + mask into
``<data_dir>/corrections/<Patient>/`` (WORC layout, for later fine-tuning) and reopens the job
after QC (``node.jobs.control.reopen_job``): the reviewer's judgement replaces the automatic QC
and the runner continues with radiomics → classify → report (amended SEG/SR) → send.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node import atomic
from node.config import NodeConfig
from node.errors import LipoNodeError
from node.jobs.folder import Artefact, JobFolder
from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState
from node.logs import phash
from node.store.db import connect, ensure_schema
from node.vocab import Label, QualityScore, SegMethod

IMAGE_FILE = Artefact.IMAGE  # short names for the routes; JobFolder owns the layout
MASK_FILE = Artefact.MASK
AUTO_MASK_FILE = Artefact.AUTO_MASK
INTERACTIVE_FILE = Artefact.INTERACTIVE_MASK
CORRECTIONS = "corrections"

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    score TEXT NOT NULL,
    method TEXT NOT NULL,
    auto_score TEXT,
    user_name TEXT NOT NULL,
    voxels INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_job ON reviews(job_id);
"""


class ReviewError(LipoNodeError):
    """The review cannot be accepted (unknown job, mask on another grid, empty mask)."""

    code = "review_invalid"


@dataclass(frozen=True)
class WorklistItem:
    job_id: str
    state: JobState
    reason_codes: list[str]
    age_s: float
    priority: int
    score: str | None
    method: str | None
    volume_ml: float | None
    label: str | None


@dataclass(frozen=True)
class Review:
    job_id: str
    score: QualityScore
    method: SegMethod
    user: str
    voxels: int


def _db(cfg: NodeConfig) -> sqlite3.Connection:
    conn = connect(cfg.db_path)
    ensure_schema(conn, SCHEMA)
    return conn


def job_folder(cfg: NodeConfig, job_id: str) -> JobFolder:
    """The job's folder; ReviewError unless ``job_id`` names a job with a result."""
    folder = JobFolder.of(cfg, job_id)
    if not job_id.isalnum() or not folder.has_result():
        raise ReviewError(f"no job {job_id!r}")
    return folder


def job_dir(cfg: NodeConfig, job_id: str) -> Path:
    return job_folder(cfg, job_id).path


def load_result(cfg: NodeConfig, job_id: str) -> JobResult:
    return job_folder(cfg, job_id).read_result()


def likely_alt(result: JobResult, threshold: float) -> bool:
    """The classifier's label where it gave one (its bundle's threshold decided it), else
    P(ALT) against ``classify.threshold``."""
    if result.label is not None:
        return result.label is Label.ALT
    return result.alt_probability is not None and result.alt_probability >= threshold


def priority(result: JobResult, threshold: float) -> int:
    """Higher first: failed QC before reopened cases, then likely-ALT (a malignancy waits least)."""
    p = 2 if result.state is JobState.NEEDS_REVIEW else 0
    if likely_alt(result, threshold):
        p += 1
    if "segmentation_failed" in result.qc.reason_codes or result.error_code == "segmentation_failed":
        p += 1
    return p


def latest_reviews(cfg: NodeConfig) -> dict[str, sqlite3.Row]:
    conn = _db(cfg)
    try:
        rows = conn.execute("SELECT * FROM reviews ORDER BY id").fetchall()
    finally:
        conn.close()
    return {r["job_id"]: r for r in rows}


def worklist(cfg: NodeConfig, *, include_delivered: bool = True) -> list[WorklistItem]:
    """Jobs waiting for review (and delivered ones, which a reviewer may reopen), highest
    priority first, oldest first within a priority."""
    states = [JobState.NEEDS_REVIEW] + ([JobState.DELIVERED] if include_delivered else [])
    reviews = latest_reviews(cfg)
    db = JobDB(cfg.db_path)
    try:
        rows = [r for s in states for r in db.list(s)]
    finally:
        db.close()
    now = datetime.now(UTC)
    items = []
    for row in rows:
        folder = JobFolder.of(cfg, row.job_id)
        if not folder.has_result():
            continue
        res = folder.read_result()
        codes = list(res.qc.reason_codes) or ([res.error_code] if res.error_code else [])
        rev = reviews.get(row.job_id)
        items.append(WorklistItem(
            row.job_id, row.state, codes, (now - row.created_at).total_seconds(),
            priority(res, cfg.classify.threshold),
            rev["score"] if rev else res.quality_score, rev["method"] if rev else None,
            res.volume_ml, res.label,
        ))
    items.sort(key=lambda i: (-i.priority, -i.age_s))
    return items


def site_proportions(cfg: NodeConfig) -> dict[str, dict[str, int]]:
    """Counts for the site panel: the automatic mask's score and the final method, per job."""
    reviews = latest_reviews(cfg)
    scores = {s.value: 0 for s in QualityScore}
    methods = {m.value: 0 for m in SegMethod}
    for r in reviews.values():
        scores[r["auto_score"] or r["score"]] = scores.get(r["auto_score"] or r["score"], 0) + 1
        methods[r["method"]] = methods.get(r["method"], 0) + 1
    return {"score": scores, "method": methods}


def ensure_image(cfg: NodeConfig, job_id: str) -> Path:
    """``image.nii.gz`` of the selected series on the segment stage's grid (written once)."""
    d = job_dir(cfg, job_id)
    target = d / IMAGE_FILE
    if target.is_file():
        return target
    import pydicom

    from node.jobs.pipeline import JobContext
    from node.segment.geometry import read_series, to_sitk

    result = load_result(cfg, job_id)
    ctx = JobContext(job_id, d, cfg, result)
    volume = read_series([pydicom.dcmread(str(p)) for p in ctx.series_paths()])
    return atomic.write_image(target, to_sitk(volume.array, volume.geometry))


def read_mask_like(data: bytes, reference: sitk.Image) -> sitk.Image:
    """Parse an uploaded NIfTI mask; it must be on the reference grid (same size, spacing,
    origin and direction within 1e-3) and binary after thresholding at 0.5."""
    with tempfile.NamedTemporaryFile(suffix=".nii.gz") as fh:
        fh.write(data)
        fh.flush()
        try:
            mask = sitk.ReadImage(fh.name)
        except RuntimeError as exc:
            raise ReviewError(f"uploaded mask is not a readable NIfTI image: {exc}") from None
    if mask.GetSize() != reference.GetSize():
        raise ReviewError(f"mask size {mask.GetSize()} != image size {reference.GetSize()}")
    for what, a, b in (("spacing", mask.GetSpacing(), reference.GetSpacing()),
                       ("origin", mask.GetOrigin(), reference.GetOrigin()),
                       ("direction", mask.GetDirection(), reference.GetDirection())):
        if not np.allclose(a, b, atol=1e-3):
            raise ReviewError(f"mask {what} {a} differs from the image's {b}")
    arr = (sitk.GetArrayFromImage(mask) > 0.5).astype(np.uint8)
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(reference)
    return out


def accept_correction(cfg: NodeConfig, job_id: str, mask: sitk.Image | None, score: QualityScore | str,
                      method: SegMethod | str, user: str) -> Review:
    """Record the review and resume the job after QC (see module docstring).

    ``mask`` None keeps the current mask (the reviewer accepted the automatic result).
    """
    score, method = QualityScore(score), SegMethod(method)
    folder = job_folder(cfg, job_id)
    d = folder.path
    result = folder.read_result()
    if result.state not in (JobState.NEEDS_REVIEW, JobState.DELIVERED):
        raise ReviewError(f"job {job_id} is {result.state}: only needs_review or delivered jobs "
                          "can be reviewed")
    image = sitk.ReadImage(str(ensure_image(cfg, job_id)))
    if mask is None:
        if method is not SegMethod.AUTOMATIC:
            raise ReviewError(f"method {method} needs a corrected mask")
        mask = sitk.ReadImage(str(d / MASK_FILE))
    voxels = int(sitk.GetArrayViewFromImage(mask).astype(bool).sum())
    if voxels == 0:
        raise ReviewError("the mask is empty: draw the tumour or score the case Incorrect and correct it")
    if (d / MASK_FILE).is_file() and not (d / AUTO_MASK_FILE).is_file():
        shutil.copy2(d / MASK_FILE, d / AUTO_MASK_FILE)
    folder.write_image(Artefact.MASK, sitk.Cast(mask, sitk.sitkUInt8))
    conn = _db(cfg)
    try:
        first = conn.execute("SELECT score FROM reviews WHERE job_id=? ORDER BY id LIMIT 1",
                             (job_id,)).fetchone()
        auto_score = first["score"] if first else score.value
        conn.execute(
            "INSERT INTO reviews(job_id, score, method, auto_score, user_name, voxels, created_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (job_id, score.value, method.value, auto_score, user, voxels, time.time()),
        )
    finally:
        conn.close()
    save_correction(cfg, result, image, mask)
    result.supersede_reported()  # a delivered job's new SEG + SR replace the ones in the PACS
    result.quality_score, result.seg_method = score, method
    result.volume_ml = round(voxels * float(np.prod(image.GetSpacing())) / 1000.0, 3)
    result.artefacts["mask"] = Artefact.MASK.value
    result.artefacts["image"] = Artefact.IMAGE.value
    folder.save_result(result)
    resume_after_review(cfg, job_id)
    return Review(job_id, score, method, user, voxels)


def save_correction(cfg: NodeConfig, result: JobResult, image: sitk.Image, mask: sitk.Image) -> Path:
    """Copy the case into ``<data_dir>/corrections/<Patient>/`` (WORC layout). The folder is
    named by a hash of the study UID: no patient identifier leaves the job store."""
    patient = f"corr-{phash(result.study_uid)}"
    target = cfg.data_dir / CORRECTIONS / patient
    target.mkdir(parents=True, exist_ok=True)
    atomic.write_image(target / "image.nii.gz", image)
    atomic.write_image(target / "segmentation.nii.gz", sitk.Cast(mask, sitk.sitkUInt8))
    return target


def resume_after_review(cfg: NodeConfig, job_id: str) -> None:
    """Resume the job after QC: radiomics → classify → report (amended SEG/SR) → send.

    ``reopen_job(redo_from="qc", done=["segment", "qc"])`` keeps select, records segment (the
    reviewer's mask replaces it, also when automatic segmentation failed) and QC as done
    (the reviewer's judgement replaces it) and drops every later stage, so a delivered job is
    re-reported from the corrected mask. Without a ``qc`` stage configured, the stage after
    ``segment`` (if any) is redone instead.
    """
    from node.jobs.control import reopen_job

    stages = list(cfg.jobs.stages)
    if "qc" in stages:
        reopen_job(cfg, job_id, "qc", done=["segment", "qc"])
    elif "segment" in stages and stages.index("segment") + 1 < len(stages):
        reopen_job(cfg, job_id, stages[stages.index("segment") + 1])
