"""The reviewer's whole round in Debian's chromium (Playwright) against a live uvicorn:
log in, open a needs_review job, six extreme points, overlay changes, brush, accept with a score;
then the stored review, mask, corrections cohort and resumed job are checked on disk, the runner
finishes the job into a real Orthanc (SEG + SR, "manual-seg"), and a second review of the
delivered job sends an AMENDED SR that names the first one as its predecessor."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813
from orthanc_api_client import OrthancApiClient
from playwright.sync_api import Page, sync_playwright
from worklist_helpers import (
    CHROMIUM_ARGS,
    PASSWORD,
    add_user,
    build_app,
    live_server,
    make_config,
    make_review_job,
    wait_js,
)

from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import Pipeline, execute_job
from node.orthanc.admin import results
from node.orthanc.local import LocalOrthanc
from node.segment.interactive import dice, simulate_points
from node.worklist import review as rv

pytestmark = [pytest.mark.browser, pytest.mark.network]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "worklist"


def _login(page: Page, base: str, password: str = PASSWORD) -> None:
    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", "anna")
    page.fill("input[name=password]", password)
    page.click("#login")


def _drawn(page: Page) -> int:
    return int(page.evaluate("lipo.drawnVoxels()"))


def _result_datasets(client: OrthancApiClient, modality: str) -> list[pydicom.Dataset]:
    """Every instance of our SEG/SR series in the PACS, read back as DICOM."""
    out = []
    for series in results(client):
        if series.modality == modality:
            for iid in client.series.get_instances_ids(client.series.lookup(series.series_uid)):
                out.append(pydicom.dcmread(io.BytesIO(client.instances.get_file(iid))))
    return out


def test_reviewer_corrects_a_failed_case_with_points_and_brush(tmp_path: Path, pacs: LocalOrthanc) -> None:
    cfg = make_config(tmp_path, pacs=(pacs.aet, pacs.dicom_port))
    job = make_review_job(cfg, tmp_path)
    add_user(cfg)
    DOCS.mkdir(parents=True, exist_ok=True)
    with live_server(build_app(cfg)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            _login(page, base, "not the password")
            assert page.locator(".error").inner_text().startswith("Wrong user name")
            _login(page, base)
            row = page.locator(f"tr[data-job={job.job_id}]")
            assert "volume_outlier" in row.inner_text() and "needs_review" in row.inner_text()
            page.screenshot(path=str(DOCS / "worklist.png"))

            row.locator("a").click()
            page.wait_for_selector("#review[data-ready='1']", timeout=90_000)
            assert _drawn(page) == int(job.bad.sum())  # the automatic mask is the overlay
            image_itk = sitk.ReadImage(str(cfg.jobs_dir / job.job_id / rv.IMAGE_FILE))

            # a click on the axial plane in point mode adds a point where NiiVue put the crosshair:
            # the crosshair's world position (RAS mm), mapped by SimpleITK (LPS), is that voxel
            page.click("#mode-points")
            box = page.locator("#gl").bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.7)
            wait_js(page, "lipo.state.points.length === 1")
            point = page.evaluate("lipo.state.points[0]")
            mm = page.evaluate("Array.from(lipo.nv.frac2mm(lipo.nv.scene.crosshairPos))")
            continuous = image_itk.TransformPhysicalPointToContinuousIndex((-mm[0], -mm[1], mm[2]))
            assert np.all(np.abs(np.asarray(continuous) - np.asarray(point)) <= 0.51), (continuous, point)
            page.click("#undo-point")
            assert page.evaluate("lipo.state.points.length") == 0

            # six extreme points: navigate to each, "Add point at crosshair"
            pts_zyx = simulate_points(job.truth, np.random.default_rng(3), inward=1)
            for z, y, x in pts_zyx:
                page.evaluate(f"lipo.gotoVoxel({x}, {y}, {z})")
                page.click("#add-point")
            assert page.evaluate("lipo.state.points") == [[int(x), int(y), int(z)] for z, y, x in pts_zyx]
            before = _drawn(page)
            page.click("#run-interactive")
            page.wait_for_selector("#interactive-status[data-voxels]", timeout=90_000)
            interactive_voxels = int(page.get_attribute("#interactive-status", "data-voxels"))
            assert _drawn(page) == interactive_voxels != before  # the overlay changed
            assert page.locator("#method").inner_text() == "interactive"
            inter_path = cfg.jobs_dir / job.job_id / rv.INTERACTIVE_FILE
            inter = sitk.GetArrayFromImage(sitk.ReadImage(str(inter_path)))
            assert dice(inter, job.truth) > dice(job.bad, job.truth)

            # brush a few voxels on the axial plane, undo once, brush again
            page.click("#mode-brush")
            page.mouse.click(box["x"] + box["width"] * 0.12, box["y"] + box["height"] * 0.62)
            wait_js(page, f"lipo.drawnVoxels() > {interactive_voxels}")
            page.click("#undo-draw")
            wait_js(page, f"lipo.drawnVoxels() === {interactive_voxels}")
            page.click("#mode-brush")
            page.mouse.click(box["x"] + box["width"] * 0.12, box["y"] + box["height"] * 0.62)
            wait_js(page, f"lipo.drawnVoxels() > {interactive_voxels}")
            final_voxels = _drawn(page)
            assert page.locator("#method").inner_text() == "manual"

            page.click("#accept")  # no score chosen yet: refused in the page
            assert "quality score" in page.locator("#accept-status").inner_text()
            page.check("input[name=score][value=insufficient]")
            page.click("#accept")
            page.wait_for_selector("#accept-status[data-ok='1']", timeout=60_000)
            page.screenshot(path=str(DOCS / "review.png"))
        finally:
            browser.close()

    job_dir = cfg.jobs_dir / job.job_id
    final = sitk.GetArrayFromImage(sitk.ReadImage(str(job_dir / rv.MASK_FILE)))
    assert int(final.sum()) == final_voxels
    assert np.all(final[inter > 0] == 1)  # the brush only added to the interactive mask ...
    assert 0 < int((final > inter).sum()) < 200  # ... a few voxels, in the image's own voxel order
    auto = sitk.GetArrayFromImage(sitk.ReadImage(str(job_dir / rv.AUTO_MASK_FILE)))
    assert np.array_equal(auto, job.bad)  # the automatic mask is kept
    result = JobResult.from_file(job_dir / "result.json")
    assert (result.quality_score, result.seg_method) == ("insufficient", "manual")
    assert result.state is JobState.QC and "qc" in result.completed_stages  # resumed after QC
    db = JobDB(cfg.db_path)
    row = db.get(job.job_id)
    db.close()
    assert row.state is JobState.QC and not row.finished
    review = rv.latest_reviews(cfg)[job.job_id]
    assert (review["score"], review["method"], review["user_name"]) == ("insufficient", "manual", "anna")
    corr = list((cfg.data_dir / "corrections").iterdir())
    assert len(corr) == 1 and {p.name for p in corr[0].iterdir()} == {"image.nii.gz", "segmentation.nii.gz"}
    seg = sitk.GetArrayFromImage(sitk.ReadImage(str(corr[0] / "segmentation.nii.gz")))
    assert np.array_equal(seg, final)
    assert json.dumps(rv.site_proportions(cfg)) == json.dumps(
        {"score": {"excellent": 0, "sufficient": 0, "insufficient": 1, "incorrect": 0},
         "method": {"automatic": 0, "interactive": 0, "manual": 1}})

    # the runner picks the resumed job up: radiomics -> classify -> report -> send, into the PACS
    pipeline = Pipeline.from_names(cfg.jobs.stages)
    assert execute_job(job.job_id, cfg, pipeline) is JobState.DELIVERED
    client = OrthancApiClient(pacs.url)
    first_seg, first_sr = _result_datasets(client, "SEG"), _result_datasets(client, "SR")
    assert len(first_seg) == len(first_sr) == 1
    assert first_sr[0].StudyInstanceUID == first_seg[0].StudyInstanceUID == row.study_uid
    assert "manual-seg" in first_sr[0].SeriesDescription and "QC reviewed" in first_sr[0].SeriesDescription
    assert "PredecessorDocumentsSequence" not in first_sr[0]

    # a second reviewer reopens the delivered job and settles on the interactive mask: the amended
    # SEG + SR reach the PACS and the SR names the first one as its predecessor (PS3.3 C.17.2.1)
    rv.accept_correction(cfg, job.job_id, sitk.ReadImage(str(inter_path)), "sufficient", "interactive", "ben")
    assert execute_job(job.job_id, cfg, pipeline) is JobState.DELIVERED
    srs = {ds.SOPInstanceUID: ds for ds in _result_datasets(client, "SR")}
    assert len(srs) == 2 and len(_result_datasets(client, "SEG")) == 2
    amended = next(ds for uid, ds in srs.items() if uid != first_sr[0].SOPInstanceUID)
    assert amended.SeriesDescription.startswith("AMENDED ") and "interactive-seg" in amended.SeriesDescription
    ref = amended.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert ref.ReferencedSOPInstanceUID == first_sr[0].SOPInstanceUID
