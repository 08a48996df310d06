"""Series picker over real HTTP for an uncertain choice (QC reason selection_uncertain): the page
lists every series, thumbnails are PNG, a pick resumes the job at segmentation with selection
"manual" and drops the old series' image and masks; bad picks and missing CSRF are refused."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from worklist_helpers import PASSWORD, add_user, build_app, live_server, make_config, make_review_job

from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import RESULT_FILE
from node.worklist import review as rv

pytestmark = pytest.mark.network


def test_reviewer_picks_another_series_for_an_uncertain_choice(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    job = make_review_job(cfg, tmp_path)
    path = cfg.jobs_dir / job.job_id / RESULT_FILE
    result = JobResult.from_file(path)
    result.qc.reason_codes = ["selection_uncertain"]
    result.to_file(path)
    add_user(cfg)
    with live_server(build_app(cfg)) as base:
        client = httpx.Client(base_url=base, timeout=60)
        assert client.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 303
        page = client.get("/").text
        assert f'href="/series/{job.job_id}"' in page  # the worklist offers the picker
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        picker = client.get(f"/series/{job.job_id}").text
        uids = re.findall(r'data-series="([0-9.]+)"', picker)
        assert len(uids) == len({p.parent for p in job.study_dir.rglob("*.dcm")})
        other = next(u for u in uids if u != result.series_uid and f'value="{u}"' in picker)
        thumb = client.get(f"/api/review/{job.job_id}/series/{other}/thumb.png")
        assert thumb.status_code == 200 and thumb.content[:8] == b"\x89PNG\r\n\x1a\n"
        url = f"/api/review/{job.job_id}/series"
        assert client.post(url, json={"series_uid": other}).status_code == 403  # no CSRF token
        client.headers["X-CSRF-Token"] = token
        assert client.post(url, json={"series_uid": "1.2.3"}).status_code == 422
        r = client.post(url, json={"series_uid": other})
        assert r.status_code == 200 and r.json()["state"] == "selected", r.text
        assert client.post(url, json={"series_uid": other}).status_code == 422  # no longer waiting
    result = JobResult.from_file(path)
    assert result.series_uid == other and result.selection.method == "manual"
    assert result.selection.picked_by == "anna" and not result.selection.uncertain
    assert result.completed_stages == ["select"] and result.qc.reason_codes == []
    assert not (cfg.jobs_dir / job.job_id / rv.MASK_FILE).exists()  # it showed the old series
    db = JobDB(cfg.db_path)
    row = db.get(job.job_id)
    db.close()
    assert row.state is JobState.SELECTED and not row.finished
