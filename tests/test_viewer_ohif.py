"""What a radiologist sees: the real OHIF viewer (npm @ohif/app, prebuilt dist/) served by a real
Orthanc next to its DICOMweb (one origin), in Debian's chromium via Playwright.

A synthetic ALT study is in the PACS; the node's own C-STORE sender delivers SEG + SR + key
image for its ground-truth mask. OHIF must hydrate the SEG over the T1 and draw the SR's
outline with P(ALT) and volume in its text box (read from the rendered SVG). Screenshots go
to docs/viewer/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from node.orthanc import ohif
from node.orthanc.local import LocalOrthanc, free_port, orthanc_available
from node.radiomics.diameter import longest_axial_diameter_mm
from node.report import ReportInputs, write_report
from node.segment.geometry import array_on_grid, read_series, seg_source
from node.send.config import DicomDestination
from node.send.cstore import CStoreSender
from node.send.outbox import instance_refs
from node.synthetic.study import StudySpec, generate_study

pytestmark = [pytest.mark.browser, pytest.mark.network]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "viewer"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
P_ALT = 0.91


@dataclass(frozen=True)
class Delivered:
    orthanc: LocalOrthanc
    study_uid: str
    volume_ml: float
    diameter_mm: float
    largest_instance_number: int
    key_image: Path


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivered]:
    if not orthanc_available() or not ohif.ohif_installed():
        pytest.fail(f"needs Debian orthanc + ServeFolders and OHIF {ohif.OHIF_VERSION} in "
                    f"{ohif.OHIF_DIST} (deploy/install.sh installs both)")
    root = tmp_path_factory.mktemp("ohif")
    study = generate_study(root / "study", StudySpec(seed=7, label="alt", location="thigh", max_matrix=128))
    datasets = [pydicom.dcmread(p) for p in sorted(study.t1_series_dir.iterdir())]
    volume = read_series(datasets)
    truth = sitk.ReadImage(str(study.mask_path))
    source, mask = seg_source(datasets, array_on_grid(truth, volume.geometry), volume)
    volume_ml = float(mask.sum()) * float(np.prod(truth.GetSpacing())) / 1000
    info = ReportInputs(alt_probability=P_ALT, label="alt", qc_status="pass", seg_method="automatic",
                        ood=False, volume_ml=volume_ml, diameter_mm=longest_axial_diameter_mm(truth),
                        model_versions={"seg": "demo-seg", "classifier": "demo-clf"})
    out = write_report(root / "job", source, mask, info)
    orthanc = LocalOrthanc(root / "orthanc")
    orthanc.configure(node_aet="LIPO_NODE", node_port=free_port(), forward=False, viewer=True)
    orthanc.start()
    try:
        with httpx.Client(base_url=orthanc.url, timeout=30) as client:
            for p in sorted(study.study_dir.rglob("*.dcm")):
                client.post("/instances", content=p.read_bytes()).raise_for_status()
        files = [out.seg_path, out.sr_path, out.key_image_path]
        refs = instance_refs(files)
        sender = CStoreSender(DicomDestination(name="pacs", host="127.0.0.1", port=orthanc.dicom_port,
                                               ae_title=orthanc.aet))
        sender.send(files, refs)
        assert sender.missing(refs) == []  # the PACS confirms SEG, SR and key image
        largest = source[int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))]
        yield Delivered(orthanc, study.study_uid, round(volume_ml, 1), round(info.diameter_mm, 1),
                        int(largest.InstanceNumber), out.key_image_path)
    finally:
        orthanc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _open_study(browser: Browser, d: Delivered) -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(ohif.viewer_url(d.orthanc.url, d.study_uid))
    page.get_by_text("lipo-node tumour SEG").first.wait_for(timeout=90_000)
    page.wait_for_timeout(1500)
    skip = page.get_by_text("Skip all")  # OHIF's first-visit tour
    if skip.count():
        skip.first.click()
    return page, errors


def _svg_text(page: Page) -> str:
    return " | ".join(page.evaluate(
        "Array.from(document.querySelectorAll('svg text')).map(e => e.textContent)"))


def _orange_pixels(png: Path) -> int:
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r > 180) & (g > 70) & (g < 190) & (b < 90) & (r - g > 50)).sum())


def _green_pixels(png: Path) -> int:
    """OHIF draws SR annotations in green (its default SR colour)."""
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((g > 150) & (r < 120) & (b < 120)).sum())


def test_ohif_hydrates_the_seg_over_the_t1(browser: Browser, delivered: Delivered) -> None:
    page, errors = _open_study(browser, delivered)
    try:
        page.get_by_text("lipo-node tumour SEG").first.dblclick()
        page.get_by_text("Do you want to open this Segmentation?").wait_for(timeout=60_000)
        page.get_by_role("button", name="Yes").click()
        # hydrated: the viewport is the T1 again (not the SEG preview) and OHIF's
        # segmentation panel lists our segment by its label
        page.get_by_text("Do you want to open this Segmentation?").wait_for(state="hidden", timeout=60_000)
        overlay = page.locator('[data-cy="viewport-overlay-top-left"]').first
        page.wait_for_function("document.querySelector('[data-cy=\"viewport-overlay-top-left\"]')"
                               ".innerText.includes('Ax T1')", timeout=60_000)
        assert "Ax T1" in overlay.inner_text()
        page.locator('[data-cy="panelSegmentation-btn"]').first.click()
        page.get_by_text("Tumour", exact=True).first.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        DOCS.mkdir(parents=True, exist_ok=True)
        shot = DOCS / "ohif_seg.png"
        page.screenshot(path=str(shot))
        assert _orange_pixels(shot) > 500, "no tumour overlay in the viewport"
        assert "Something went wrong" not in page.content()
        assert errors == []
    finally:
        page.close()


def test_ohif_draws_the_sr_outline_with_p_alt_and_volume(browser: Browser, delivered: Delivered) -> None:
    page, errors = _open_study(browser, delivered)
    try:
        page.locator("text=P(ALT) 0.91 - ALT likely").last.dblclick()  # the SR thumbnail
        page.wait_for_function(
            "Array.from(document.querySelectorAll('svg text')).some(e => e.textContent.includes('P(ALT)'))",
            timeout=60_000)
        page.wait_for_timeout(1500)
        text = _svg_text(page)
        assert f"P(ALT): {100 * P_ALT:.2f} %" in text
        assert f"Volume: {delivered.volume_ml:.2f} ml" in text
        assert f"Long axis: {delivered.diameter_mm:.2f} mm" in text
        assert "Something went wrong" not in page.content()
        # OHIF jumped to the outlined slice: the T1 image where the tumour is largest
        instance = page.get_by_title("Instance Number").first.inner_text()
        assert instance.replace(" ", "").startswith(f"I:{delivered.largest_instance_number}("), instance
        DOCS.mkdir(parents=True, exist_ok=True)
        shot = DOCS / "ohif_sr.png"
        page.screenshot(path=str(shot))
        assert _green_pixels(shot) > 100, "no outline drawn"
        assert errors == []
    finally:
        page.close()
    ds = pydicom.dcmread(delivered.key_image)
    Image.fromarray(ds.pixel_array).save(DOCS / "key_image.png")
