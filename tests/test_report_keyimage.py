"""The outline the SR and key image show, and the key image itself (Secondary Capture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from report_helpers import inputs, source_and_mask
from skimage.draw import polygon as fill_polygon

from node.report import write_report
from node.report.keyimage import patient_orientation
from node.report.outline import outline
from node.synthetic.study import StudySpec, generate_study


@pytest.fixture(scope="module")
def axial_t1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    res = generate_study(tmp_path_factory.mktemp("key"), StudySpec(seed=5, max_matrix=64))
    return res.study_dir / "S0002"


def test_outline_is_closed_on_the_largest_slice_and_encloses_the_region() -> None:
    mask = np.zeros((5, 40, 50), bool)
    mask[1, 10:20, 10:30] = True           # 200 pixels
    mask[3, 5:30, 8:40] = True             # 800 pixels: the largest
    mask[3, 32:35, 2:4] = True             # a second, small region on the same slice
    line = outline(mask)
    assert line.frame == 3 and line.area_px == int(mask[3].sum())
    pts = line.points
    assert np.array_equal(pts[0], pts[-1])
    # SCOORD convention: (column, row) with pixel centres at +0.5, so the boundary of rows
    # 5..29 and columns 8..39 lies within half a pixel of [5, 30] x [8, 40]
    assert pts[:, 0].min() == pytest.approx(8.0, abs=0.5) and pts[:, 0].max() == pytest.approx(40.0, abs=0.5)
    assert pts[:, 1].min() == pytest.approx(5.0, abs=0.5) and pts[:, 1].max() == pytest.approx(30.0, abs=0.5)
    # filling the polygon gives back the large region (not the small one)
    rr, cc = fill_polygon(pts[:, 1] - 0.5, pts[:, 0] - 0.5, mask.shape[1:])
    filled = np.zeros(mask.shape[1:], bool)
    filled[rr, cc] = True
    overlap = (filled & mask[3]).sum() / mask[3, 5:30, 8:40].sum()
    assert overlap > 0.9 and not filled[32:35, 2:4].any()


def test_patient_orientation_follows_the_image_plane() -> None:
    assert patient_orientation([1, 0, 0, 0, 1, 0]) == ("L", "P")          # axial
    assert patient_orientation([0, 1, 0, 0, 0, -1]) == ("P", "F")         # sagittal
    assert patient_orientation([-1, 0, 0, 0, 0, -1]) == ("R", "F")        # coronal


def test_key_image_shows_the_slice_outline_and_text_at_the_bottom(axial_t1: Path, tmp_path: Path) -> None:
    src, mask = source_and_mask(axial_t1)
    out = write_report(tmp_path, src, mask, inputs())
    sc = pydicom.dcmread(out.key_image_path)
    line = outline(mask)
    ref = src[line.frame]
    assert sc.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage
    assert sc.StudyInstanceUID == ref.StudyInstanceUID and sc.PatientID == ref.PatientID
    assert sc.BurnedInAnnotation == "YES" and sc.PhotometricInterpretation == "RGB"
    assert sc.SeriesDescription == out.headline and sc.SOPInstanceUID == out.key_image_uid
    assert list(sc.PatientOrientation) == list(patient_orientation(ref.ImageOrientationPatient))
    rgb = sc.pixel_array
    scale = rgb.shape[1] // int(ref.Columns)
    image_rows = int(ref.Rows) * scale
    assert rgb.shape[0] > image_rows  # a text band below the image
    band = rgb[image_rows:]
    assert (band.min(axis=-1) > 200).sum() > 500, "white text in the band"
    orange = (rgb[..., 0] > 200) & (rgb[..., 1] > 90) & (rgb[..., 1] < 170) & (rgb[..., 2] < 60)
    assert orange[:image_rows].sum() > 50 and not orange[image_rows:].any()


def test_no_key_image_when_switched_off(axial_t1: Path, tmp_path: Path) -> None:
    src, mask = source_and_mask(axial_t1)
    out = write_report(tmp_path, src, mask, inputs(), key_image=False)
    assert out.key_image_path is None and out.key_image_uid is None
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "report").iterdir()) == ["seg", "sr"]
