"""Review API over real HTTP: accept the automatic mask, refuse masks on another grid and bad
points, reopen a delivered job; the worklist page shows reason codes and site proportions."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from worklist_helpers import PASSWORD, add_user, build_app, live_server, make_config, make_review_job

from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState
from node.worklist import review as rv

pytestmark = pytest.mark.network


def _nifti_bytes(arr: np.ndarray, like: sitk.Image | None = None) -> bytes:
    img = sitk.GetImageFromArray(arr)
    if like is not None:
        img.CopyInformation(like)
    path = Path("/tmp") / f"wl-{np.random.default_rng().integers(1 << 30)}.nii"
    sitk.WriteImage(img, str(path))
    data = path.read_bytes()
    path.unlink()
    return gzip.compress(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("site")
    cfg = make_config(tmp)
    job = make_review_job(cfg, tmp)
    add_user(cfg)
    with live_server(build_app(cfg)) as base:
        client = httpx.Client(base_url=base, timeout=60)
        assert client.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 303
        token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)
        client.headers["X-CSRF-Token"] = token
        yield cfg, job, client


def test_worklist_shows_the_job_with_reason_codes_and_priority(site) -> None:
    cfg, job, client = site
    page = client.get("/").text
    assert f'data-job="{job.job_id}"' in page and "volume_outlier" in page and "low_confidence" in page
    assert client.get(f"/review/{job.job_id}").status_code == 200
    assert client.get("/review/nosuchjob").status_code == 404
    img = client.get(f"/api/review/{job.job_id}/image.nii.gz")
    assert img.status_code == 200
    image = sitk.ReadImage(str(cfg.jobs_dir / job.job_id / rv.IMAGE_FILE))
    assert image.GetSize()[::-1] == job.truth.shape  # the selected T1 series' grid


def test_bad_points_and_a_mask_on_another_grid_are_refused_and_nothing_is_written(site) -> None:
    cfg, job, client = site
    r = client.post(f"/api/review/{job.job_id}/points", json={"points": [[1, 1, 1]] * 6})
    assert r.status_code == 422 and "interactive_points_invalid" in r.text
    r = client.post(f"/api/review/{job.job_id}/points", json={"points": [[1, 1, 1]] * 5})
    assert r.status_code == 422
    wrong = _nifti_bytes(np.ones((4, 8, 8), dtype=np.uint8))
    r = client.post(f"/api/review/{job.job_id}/accept", data={"score": "incorrect", "method": "manual"},
                    files={"mask": ("mask.nii.gz", io.BytesIO(wrong), "application/gzip")})
    assert r.status_code == 422 and "review_invalid" in r.text
    r = client.post(f"/api/review/{job.job_id}/accept", data={"score": "great", "method": "manual"})
    assert r.status_code == 422
    assert job.job_id not in rv.latest_reviews(cfg)
    assert JobResult.from_file(cfg.jobs_dir / job.job_id / "result.json").state is JobState.NEEDS_REVIEW


def test_accepting_the_automatic_mask_keeps_it_and_resumes_after_qc(site) -> None:
    cfg, job, client = site
    r = client.post(f"/api/review/{job.job_id}/accept", data={"score": "sufficient", "method": "automatic"})
    assert r.status_code == 200, r.text
    assert r.json()["method"] == "automatic" and r.json()["state"] == "qc"
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(cfg.jobs_dir / job.job_id / rv.MASK_FILE)))
    assert np.array_equal(mask, job.bad)
    result = JobResult.from_file(cfg.jobs_dir / job.job_id / "result.json")
    assert result.completed_stages == ["select", "segment", "qc"] and result.seg_method == "automatic"
    assert "Sufficient: <b data-score=\"sufficient\">1</b>" in client.get("/").text


def test_a_delivered_job_can_be_reopened_and_corrected(site) -> None:
    cfg, job, client = site
    path = cfg.jobs_dir / job.job_id / "result.json"
    result = JobResult.from_file(path)
    result.state, result.completed_stages = JobState.DELIVERED, ["select", "segment", "qc"]
    result.to_file(path)
    db = JobDB(cfg.db_path)
    db.update(job.job_id, state=JobState.DELIVERED, finished=True)
    assert "Reopen" in client.get("/").text
    like = sitk.ReadImage(str(cfg.jobs_dir / job.job_id / rv.IMAGE_FILE))
    upload = io.BytesIO(_nifti_bytes(job.truth, like))
    r = client.post(f"/api/review/{job.job_id}/accept", data={"score": "insufficient", "method": "manual"},
                    files={"mask": ("mask.nii.gz", upload, "application/gzip")})
    assert r.status_code == 200, r.text
    row = db.get(job.job_id)
    db.close()
    assert row.state is JobState.QC and not row.finished  # the runner will redo radiomics → send
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(cfg.jobs_dir / job.job_id / rv.MASK_FILE)))
    assert np.array_equal(mask, job.truth)
    # the first review scored the automatic mask; the site panel counts that score once
    props = rv.site_proportions(cfg)
    assert props["score"]["sufficient"] == 1 and props["method"]["manual"] == 1
