"""SEG + SR for classic and Enhanced MR sources in three planes pass the field's validators."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from report_helpers import dciodvfy, dcmqi_mask, dsrdump, inputs, source_and_mask, tid1500

from node.report import write_report
from node.synthetic.study import StudySpec, generate_study

SIEMENS_SAG = "3_t1_fl2d_sag"


@pytest.fixture(scope="module")
def synth_studies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One synthetic study as classic and as Enhanced MR: axial T1 (S0002), coronal STIR (S0003)."""
    root = tmp_path_factory.mktemp("synth")
    out: dict[str, Path] = {}
    for enhanced in (False, True):
        spec = StudySpec(seed=3, enhanced=enhanced, max_matrix=64)
        res = generate_study(root / f"enh{int(enhanced)}", spec)
        assert res.meta["t1_plane"] == "axial"
        kind = "enhanced" if enhanced else "classic"
        out[f"{kind}-axial"] = res.study_dir / "S0002"
        out[f"{kind}-coronal"] = res.study_dir / "S0003"
    return out


CASES = ["classic-axial", "classic-coronal", "enhanced-axial", "enhanced-coronal", "siemens-sagittal"]


def _folder(case: str, synth: dict[str, Path], siemens: Path) -> Path:
    return siemens / SIEMENS_SAG if case == "siemens-sagittal" else synth[case]


@pytest.mark.parametrize("case", CASES)
def test_seg_and_sr_pass_dciodvfy_dsrdump_and_dcmqi(
    case: str, synth_studies: dict[str, Path], siemens_study: Path, tmp_path: Path
) -> None:
    src, mask = source_and_mask(_folder(case, synth_studies, siemens_study))
    out = write_report(tmp_path / "job", src, mask, inputs())

    folder = _folder(case, synth_studies, siemens_study)
    inherited = set(dciodvfy(next(p for p in sorted(folder.iterdir()) if p.is_file())).warnings)
    for path in (out.seg_path, out.sr_path, out.key_image_path):
        v = dciodvfy(path)
        assert v.errors == [], f"{case} {path.name}: {v.errors}"
        # warnings left: our private coding scheme (which dciodvfy cannot know) and what the
        # source images themselves carry (patient/study attributes are copied verbatim)
        ours = [w for w in v.warnings if "<99LIPONODE>" not in w and w not in inherited]
        assert ours == [], f"{case} {path.name}: {ours}"

    # dcmqi rebuilds exactly our mask, frame for frame
    assert np.array_equal(dcmqi_mask(out.seg_path, tmp_path / "dcmqi"), mask)

    dump = dsrdump(out.sr_path)
    assert "(116676008,SCT,\"Associated morphology\")" not in dump  # it is the concept name ...
    assert '"Associated morphology")=(C4250,NCIt' in dump           # ... with the class as value
    assert "Referenced Segment" in dump
    assert 'SCOORD:(,,"Image Region")=(POLYLINE' in dump

    meta = tid1500(out.sr_path, tmp_path / "tid")
    planar, volumetric = meta["Measurements"]
    assert planar["TrackingUniqueIdentifier"] == volumetric["TrackingUniqueIdentifier"]
    assert planar["TrackingIdentifier"] == volumetric["TrackingIdentifier"] == "Tumour"
    palt = [i for i in planar["measurementItems"] if i["quantity"]["CodeValue"] == "PALT"]
    assert len(palt) == 1 and float(palt[0]["value"]) == pytest.approx(83.0)
    assert palt[0]["units"]["CodeValue"] == "%"
    items = volumetric["measurementItems"]
    vol = [i for i in items if i["quantity"]["CodeValue"] == "118565006"]
    assert float(vol[0]["value"]) == pytest.approx(123.4) and vol[0]["units"]["CodeValue"] == "ml"
    assert volumetric["ReferencedSegment"] == 1
    assert volumetric["SourceSeriesForImageSegmentation"] == src[0].SeriesInstanceUID

    # highdicom's own parser finds both groups, the outline and the image it lies on
    sr = hd.sr.srread(out.sr_path)
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == 1 and len(sr.content.get_volumetric_roi_measurement_groups()) == 1
    region = groups[0].roi
    assert region.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
    points = region.value
    assert np.array_equal(points[0], points[-1]) and len(points) >= 4  # closed
    ref = region.ContentSequence[0].ReferencedSOPSequence[0]
    assert ref.ReferencedSOPInstanceUID in {d.SOPInstanceUID for d in src}


def test_seg_is_binary_uncompressed_with_per_frame_references(
    synth_studies: dict[str, Path], tmp_path: Path
) -> None:
    src, mask = source_and_mask(synth_studies["classic-axial"])
    out = write_report(tmp_path, src, mask, inputs())
    seg = hd.seg.segread(out.seg_path)
    assert seg.SegmentationType == "BINARY"
    assert seg.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert int(seg.NumberOfFrames) == len(src)  # empty frames kept: aligned frame for frame
    # each SEG frame names its source image; its pixels are our mask's frame of that image
    index = {ds.SOPInstanceUID: i for i, ds in enumerate(src)}
    pixels = seg.pixel_array.astype(bool)
    seen = []
    for f, frame in enumerate(seg.PerFrameFunctionalGroupsSequence):
        ref = frame.DerivationImageSequence[0].SourceImageSequence[0]
        j = index[ref.ReferencedSOPInstanceUID]
        seen.append(j)
        pos = frame.PlanePositionSequence[0].ImagePositionPatient
        assert np.allclose([float(v) for v in pos], [float(v) for v in src[j].ImagePositionPatient])
        assert np.array_equal(pixels[f], mask[j])
    assert sorted(seen) == list(range(len(src)))
    desc = seg.SegmentSequence[0]
    assert desc.SegmentLabel == "Tumour"
    assert desc.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert desc.SegmentedPropertyTypeCodeSequence[0].CodeValue == "108369006"
    assert desc.AnatomicRegionSequence[0].CodeMeaning == "Thigh"  # BodyPartExamined THIGH
    assert len(desc.RecommendedDisplayCIELabValue) == 3
    assert desc.SegmentAlgorithmType == "AUTOMATIC"
    assert desc.SegmentationAlgorithmIdentificationSequence[0].AlgorithmName
    # IHE AIR: the node identifies itself as processing equipment
    purposes = [e.PurposeOfReferenceCodeSequence[0].CodeValue for e in seg.ContributingEquipmentSequence]
    assert "109102" in purposes


def test_headline_is_in_the_sr_series_description_not_content_description(
    synth_studies: dict[str, Path], tmp_path: Path
) -> None:
    src, mask = source_and_mask(synth_studies["enhanced-axial"])
    out = write_report(tmp_path, src, mask, inputs(alt_probability=0.12, label="lipoma",
                                                    seg_method="interactive", qc_status="reviewed"))
    sr = pydicom.dcmread(out.sr_path)
    assert sr.SeriesDescription == "P(ALT) 0.12 - lipoma likely, interactive-seg, QC reviewed"
    assert sr.SeriesDescription == out.headline
    assert "ContentDescription" not in sr  # not in the Comprehensive 3D SR IOD
    assert len(sr.SeriesDescription) <= 64
    seg = pydicom.dcmread(out.seg_path)
    assert seg.ContentDescription == out.headline
    assert seg.SegmentSequence[0].SegmentAlgorithmType == "SEMIAUTOMATIC"


def test_sr_of_a_manually_picked_series_says_so_and_stays_valid(siemens_study: Path, tmp_path: Path) -> None:
    src, mask = source_and_mask(siemens_study / SIEMENS_SAG)
    out = write_report(tmp_path / "job", src, mask, inputs(series_selection="manual"))
    v = dciodvfy(out.sr_path)
    assert v.errors == [], v.errors
    dump = dsrdump(out.sr_path)
    assert '"T1 series selection")=(T1SELMANUAL,99LIPONODE' in dump
    tid1500(out.sr_path, tmp_path / "tid")  # dcmqi still reads the TID 1500 report
    auto = write_report(tmp_path / "auto", src, mask, inputs())
    assert "T1 series selection" not in dsrdump(auto.sr_path)
