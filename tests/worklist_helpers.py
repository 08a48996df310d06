"""Worklist test fixtures: a needs_review job made from a synthetic study, a live uvicorn."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813
import uvicorn
from fastapi import FastAPI
from fastapi.params import Depends
from peers import free_port, wait_port

from node.config import NodeConfig, load_config
from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState, QcOutcome
from node.jobs.pipeline import RESULT_FILE
from node.synthetic.study import StudySpec, generate_study
from node.worklist.app import create_app
from node.worklist.auth import require_api_user
from node.worklist.ui import include_worklist
from node.worklist.users import UserStore

PASSWORD = "correct horse battery"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


@dataclass(frozen=True)
class ReviewJob:
    job_id: str
    study_dir: Path
    truth: np.ndarray  # (z, y, x) truth mask of the T1 series
    bad: np.ndarray  # the "automatic" mask written to the job (too small: QC failed)


def make_config(tmp: Path, pacs: tuple[str, int] | None = None) -> NodeConfig:
    """Stages up to QC; with ``pacs`` (AE title, port) the whole chain, delivering there."""
    if pacs is None:
        return load_config(None, data_dir=str(tmp / "data"),
                           jobs={"stages": ["select", "segment", "qc"]}, store={"min_free_bytes": 0})
    dest = {"kind": "dicom", "name": "pacs", "host": "127.0.0.1", "port": pacs[1], "ae_title": pacs[0],
            "calling_ae_title": "LIPO_NODE", "timeout_s": 10}
    stages = ["select", "segment", "qc", "radiomics", "classify", "report", "send"]
    return load_config(None, data_dir=str(tmp / "data"), store={"min_free_bytes": 0}, jobs={"stages": stages},
                       send={"destinations": [dest], "default_destinations": []})


def make_review_job(cfg: NodeConfig, tmp: Path, seed: int = 11) -> ReviewJob:
    """A superficial-tumour study whose automatic mask is an eroded upper half (QC failed)."""
    study = generate_study(tmp / f"study{seed}", StudySpec(case="superficial", max_matrix=160), seed=seed)
    truth_img = sitk.ReadImage(str(study.mask_path))
    truth = sitk.GetArrayFromImage(truth_img).astype(np.uint8)
    core = truth.copy()
    from scipy import ndimage

    core = ndimage.binary_erosion(truth, iterations=2).astype(np.uint8)
    if core.sum() == 0:
        core = truth.copy()
    zc = int(np.argwhere(core)[:, 0].mean())
    core[zc:] = 0  # the automatic mask missed the lower half of the tumour
    db = JobDB(cfg.db_path)
    job_id = "jtest" + str(seed)
    db.create(study.study_uid, source_dir=str(study.study_dir), job_id=job_id)
    job_dir = cfg.jobs_dir / job_id
    job_dir.mkdir(parents=True)
    bad = sitk.GetImageFromArray(core)
    bad.CopyInformation(truth_img)
    sitk.WriteImage(bad, str(job_dir / "mask.nii.gz"), useCompression=True)
    result = JobResult(job_id=job_id, study_uid=study.study_uid, series_uid=study.t1_series_uid,
                       source_dir=str(study.study_dir), state=JobState.NEEDS_REVIEW,
                       qc=QcOutcome(status="fail", reason_codes=["volume_outlier", "low_confidence"]),
                       completed_stages=["select", "segment"], error_code="qc_failed",
                       volume_ml=1.0, artefacts={"mask": "mask.nii.gz"})
    result.to_file(job_dir / RESULT_FILE)
    db.update(job_id, state=JobState.NEEDS_REVIEW, series_uid=study.t1_series_uid, error_code="qc_failed")
    db.close()
    return ReviewJob(job_id, study.study_dir, truth, core)


def add_user(cfg: NodeConfig, name: str = "anna", role: str = "reviewer") -> None:
    with UserStore(cfg.db_path) as store:
        store.add_user(name, PASSWORD, role)


def build_app(cfg: NodeConfig) -> FastAPI:
    """What the lead's create_app will do: guard /api with the login, add the worklist."""
    app = create_app(cfg, api_dependencies=[Depends(require_api_user)])
    include_worklist(app, cfg)
    return app


@contextlib.contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_port(port, timeout_s=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_js(page, expression: str, timeout_s: float = 90.0) -> None:
    """Poll a page expression with ``evaluate`` until it is truthy.

    Playwright's ``wait_for_function`` evaluates its predicate with ``eval`` inside the page, which the
    worklist's Content-Security-Policy (no 'unsafe-eval') refuses; ``evaluate`` runs through the
    DevTools protocol and is not subject to the page's CSP.
    """
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {expression}")
        page.wait_for_timeout(100)
