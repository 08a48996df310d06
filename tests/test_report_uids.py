"""Deterministic UIDs, amendments that supersede, refusals before writing, editable templates."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from report_helpers import dciodvfy, inputs, source_and_mask

from node.errors import ConfigError, ReportError
from node.report import PreviousResult, load_templates, write_report
from node.report.templates import DEFAULT_TEMPLATES

SAG = "3_t1_fl2d_sag"


@pytest.fixture(scope="module")
def sag(siemens_study: Path) -> tuple[list[pydicom.Dataset], np.ndarray]:
    return source_and_mask(siemens_study / SAG)


def test_same_input_twice_gives_identical_uids(sag, tmp_path: Path) -> None:
    src, mask = sag
    a = write_report(tmp_path / "a", src, mask, inputs())
    b = write_report(tmp_path / "b", list(src), mask.astype(np.uint8), inputs())
    assert (a.seg_uid, a.seg_series_uid, a.sr_uid, a.sr_series_uid) == \
        (b.seg_uid, b.seg_series_uid, b.sr_uid, b.sr_series_uid)
    assert pydicom.dcmread(a.sr_path).SOPInstanceUID == pydicom.dcmread(b.sr_path).SOPInstanceUID
    for uid in (a.seg_uid, a.sr_uid, a.seg_series_uid, a.sr_series_uid):
        assert len(uid) <= 64 and pydicom.uid.UID(uid).is_valid


def test_new_mask_or_model_or_value_gives_new_uids(sag, tmp_path: Path) -> None:
    src, mask = sag
    base = write_report(tmp_path / "0", src, mask, inputs())
    moved = write_report(tmp_path / "1", src, np.roll(mask, 1, axis=2), inputs())
    model = write_report(tmp_path / "2", src, mask, inputs(model_versions={"seg": "v2"}))
    value = write_report(tmp_path / "3", src, mask, inputs(alt_probability=0.5))
    assert len({base.seg_uid, moved.seg_uid, model.seg_uid}) == 3
    assert value.seg_uid == base.seg_uid  # same pixels, same SEG
    assert len({base.sr_uid, moved.sr_uid, model.sr_uid, value.sr_uid}) == 4


def test_amended_result_references_and_supersedes_the_original(sag, tmp_path: Path) -> None:
    src, mask = sag
    first = write_report(tmp_path, src, mask, inputs(qc_status="fail"))
    prev = PreviousResult(study_uid=first.study_uid, seg_series_uid=first.seg_series_uid,
                          seg_uid=first.seg_uid, sr_series_uid=first.sr_series_uid, sr_uid=first.sr_uid)
    fixed = np.roll(mask, 2, axis=1)
    amended = write_report(tmp_path, src, fixed, inputs(qc_status="reviewed", seg_method="interactive",
                                                        amended_from=prev))
    assert amended.sr_uid != first.sr_uid and amended.seg_uid != first.seg_uid
    assert first.sr_path.exists() and amended.sr_path.exists()  # the original is kept
    sr = pydicom.dcmread(amended.sr_path)
    pre = sr.PredecessorDocumentsSequence[0]
    assert pre.StudyInstanceUID == first.study_uid
    series = pre.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == first.sr_series_uid
    assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == first.sr_uid
    assert sr.SeriesDescription.startswith("AMENDED ")
    assert pydicom.dcmread(amended.seg_path).SeriesDescription.startswith("AMENDED ")
    assert dciodvfy(amended.sr_path).errors == []
    # amending twice with the same correction is idempotent too
    again = write_report(tmp_path, src, fixed, inputs(qc_status="reviewed", seg_method="interactive",
                                                      amended_from=prev))
    assert again.sr_uid == amended.sr_uid


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda s, m: (s, m[:-1]), "does not match the source"),
        (lambda s, m: (s, np.zeros_like(m)), "mask is empty"),
        (lambda s, m: (s, m[0]), r"\(frames, rows, cols\)"),
        (lambda s, m: ([], m), "no source images"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(sag, tmp_path: Path, change, needle: str) -> None:
    src, mask = change(*sag)
    with pytest.raises(ReportError, match=needle):
        write_report(tmp_path, src, mask, inputs())
    assert not (tmp_path / "report").exists()


def test_images_of_two_series_are_refused(sag, tmp_path: Path) -> None:
    src, mask = sag
    other = copy.deepcopy(src[-1])
    other.SeriesInstanceUID = pydicom.uid.generate_uid()
    with pytest.raises(ReportError, match="2 series"):
        write_report(tmp_path, [*src[:-1], other], mask, inputs())


def test_out_of_range_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="alt_probability"):
        inputs(alt_probability=1.5)
    with pytest.raises(ValueError, match="label"):
        inputs(label="liposarcoma")


def test_site_edits_templates_without_code(sag, tmp_path: Path) -> None:
    src, mask = sag
    raw = json.loads(DEFAULT_TEMPLATES.read_text())
    raw["segment"]["label"] = "Lipomatous tumour"
    raw["descriptions"]["seg_series"] = "Site X tumour SEG"
    raw["equipment"]["institution_name"] = "Site X"
    edited = tmp_path / "site.json"
    edited.write_text(json.dumps(raw))
    out = write_report(tmp_path / "job", src, mask, inputs(), load_templates(edited))
    seg = pydicom.dcmread(out.seg_path)
    assert seg.SegmentSequence[0].SegmentLabel == "Lipomatous tumour"
    assert seg.SeriesDescription == "Site X tumour SEG"
    assert any(getattr(e, "InstitutionName", None) == "Site X" for e in seg.ContributingEquipmentSequence)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda r: r["sr"].update(predicted_class={"value": "121071", "scheme": "DCM", "meaning": "Finding"}),
         "sr.predicted_class"),
        (lambda r: r["sr"]["classes"].pop("alt"), "classes lacks"),
        (lambda r: r["segment"].update(display_color_rgb=[0, 0, 300]), "display_color_rgb"),
        (lambda r: r.update(surprise=1), "surprise"),
    ],
)
def test_broken_templates_name_the_problem(tmp_path: Path, edit, needle: str) -> None:
    raw = json.loads(DEFAULT_TEMPLATES.read_text())
    edit(raw)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match=needle):
        load_templates(bad)
