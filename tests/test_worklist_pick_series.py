"""The human fallback of T1 selection, end to end in Debian's chromium (Playwright): a study
whose T1 the rules cannot choose (the site excluded its protocol) lands in the worklist as
no_t1_series; the reviewer sees every series (thumbnail, description, TR/TE/TI, why it scored),
picks the T1; the job resumes at segmentation with selection "manual" and the SR delivered to a
real Orthanc says a reviewer picked the series."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pydicom
import pytest
from orthanc_api_client import OrthancApiClient
from playwright.sync_api import sync_playwright
from worklist_helpers import CHROMIUM_ARGS, PASSWORD, add_user, build_app, live_server, wait_js

from node.config import load_config
from node.errors import LipoNodeError
from node.jobs.jobdb import JobDB
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import Pipeline, execute_job
from node.orthanc.admin import results
from node.orthanc.local import LocalOrthanc
from node.synthetic.study import StudySpec, generate_study
from node.worklist import pick

pytestmark = [pytest.mark.browser, pytest.mark.network]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "worklist"


def _sr_codes(ds: pydicom.Dataset) -> set[str]:
    found: set[str] = set()
    for item in ds.get("ContentSequence", []):
        for seq in ("ConceptNameCodeSequence", "ConceptCodeSequence"):
            if seq in item:
                found.add(item[seq][0].CodeValue)
        found |= _sr_codes(item)
    return found


def test_reviewer_picks_the_series_when_no_t1_qualifies(tmp_path: Path, pacs: LocalOrthanc) -> None:
    study = generate_study(tmp_path / "study", StudySpec(seed=7, label="alt", location="thigh"))
    t1_names = {s.description for s in study.series if s.role in ("t1", "t1_second")}
    exclude = "^(" + "|".join(re.escape(n) for n in t1_names) + ")$"
    dest = {"kind": "dicom", "name": "pacs", "host": "127.0.0.1", "port": pacs.dicom_port,
            "ae_title": pacs.aet, "calling_ae_title": "LIPO_NODE", "timeout_s": 10}
    cfg = load_config(None, data_dir=str(tmp_path / "data"), store={"min_free_bytes": 0},
                      jobs={"stages": ["select", "segment", "qc", "radiomics", "classify", "report", "send"]},
                      send={"destinations": [dest], "default_destinations": []},
                      select={"rules": {"site_rules": [{"name": "T1 protocol retired", "action": "exclude",
                                                        "description": exclude}]}})
    db = JobDB(cfg.db_path)
    db.create(study.study_uid, source_dir=str(study.study_dir), job_id="jpick")
    db.close()
    pipeline = Pipeline.from_names(cfg.jobs.stages)
    assert execute_job("jpick", cfg, pipeline) is JobState.NEEDS_REVIEW
    result = JobResult.from_file(cfg.jobs_dir / "jpick" / "result.json")
    assert result.error_code == "no_t1_series" and result.selection.method == "none"
    assert len(result.selection.series) == len(study.series)
    with pytest.raises(LipoNodeError, match="no series"):
        pick.pick_series(cfg, "jpick", "1.2.3.4", "anna")
    add_user(cfg)

    with live_server(build_app(cfg)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "/")
            page.fill("input[name=username]", "anna")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login")
            row = page.locator("tr[data-job=jpick]")
            assert "no_t1_series" in row.inner_text()
            assert row.locator("a", has_text="Review").count() == 0  # nothing to review without a series
            row.locator("a.pick-series").click()
            page.wait_for_selector("#series-picker")
            rows = page.locator("#series tbody tr")
            assert rows.count() == len(study.series)
            wait_js(page, "Array.from(document.querySelectorAll('img.thumb'))"
                          ".every(i => i.complete && i.naturalWidth)", 60)
            t1 = page.locator(f"#series tr[data-series='{study.t1_series_uid}']")
            t1_hdr = pydicom.dcmread(next(study.t1_series_dir.iterdir()), stop_before_pixels=True)
            assert "excluded by site rule 'T1 protocol retired'" in t1.inner_text()
            assert f"{float(t1_hdr.RepetitionTime):g} / {float(t1_hdr.EchoTime):g}" in \
                " ".join(t1.locator("td.timing").inner_text().split())
            stir = next(s for s in study.series if s.role in ("stir", "t2_fs"))
            assert "ms" in page.locator(f"#series tr[data-series='{stir.uid}'] td.reasons").inner_text()
            DOCS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(DOCS / "series_picker.png"), full_page=True)
            t1.locator("button.pick").click()
            page.wait_for_url(base + "/")
        finally:
            browser.close()

    result = JobResult.from_file(cfg.jobs_dir / "jpick" / "result.json")
    assert result.series_uid == study.t1_series_uid
    assert (result.selection.method, result.selection.picked_by) == ("manual", "anna")
    assert result.selection.reasons[0] == "picked by anna in the worklist"
    assert result.completed_stages == ["select"] and result.state is JobState.SELECTED
    final = execute_job("jpick", cfg, pipeline)  # resumes at segmentation, on the picked series
    result = JobResult.from_file(cfg.jobs_dir / "jpick" / "result.json")
    assert final is JobState.DELIVERED, (result.error_code, result.qc)
    client = OrthancApiClient(pacs.url)
    srs = []
    for series in results(client):
        if series.modality == "SR":
            for iid in client.series.get_instances_ids(client.series.lookup(series.series_uid)):
                srs.append(pydicom.dcmread(io.BytesIO(client.instances.get_file(iid))))
    assert len(srs) == 1
    assert {"T1SELECT", "T1SELMANUAL"} <= _sr_codes(srs[0])
    evidence = srs[0].CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    assert study.t1_series_uid in {s.SeriesInstanceUID for s in evidence}
