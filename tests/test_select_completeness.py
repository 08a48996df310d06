"""Study completeness: quiet timer and data checks; a study missing slices waits, then goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydicom.uid import generate_uid
from select_helpers import write_enhanced, write_series

from node.select import Readiness, SelectConfig, StudyIndex, assess
from node.select.completeness import INCOMPLETE_WARNING

CFG = SelectConfig(quiet_s=0.2, max_wait_s=1.0)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_complete_study_is_ready_only_after_quiet_time(tmp_path: Path) -> None:
    write_series(tmp_path, generate_uid(), "t1_tse_tra", tr=550, te=11, n=15)
    study = StudyIndex.from_folder(tmp_path)
    assert assess(study, T0, _at(0.1), CFG).readiness is Readiness.WAITING
    done = assess(study, T0, _at(0.3), CFG)
    assert done.readiness is Readiness.READY and done.warnings == []


def test_missing_slice_waits_then_proceeds_with_warning(tmp_path: Path) -> None:
    write_series(tmp_path, generate_uid(), "t1_tse_tra", tr=550, te=11, n=15, skip=[8])
    study = StudyIndex.from_folder(tmp_path)
    waiting = assess(study, T0, _at(0.5), CFG)
    assert waiting.readiness is Readiness.WAITING
    problems = " ".join(waiting.gaps[0].problems)
    assert "1 InstanceNumber(s) missing" in problems
    assert "1 slice position(s) missing" in problems
    late = assess(study, T0, _at(1.5), CFG)
    assert late.readiness is Readiness.READY_INCOMPLETE and late.ready
    assert late.warnings == [INCOMPLETE_WARNING]


def test_images_in_acquisition_short_count_detected(tmp_path: Path) -> None:
    # the last three slices never arrived: no hole in numbers or positions, only the count tells
    write_series(tmp_path, generate_uid(), "t1_tse_tra", tr=550, te=11, n=20, skip=[18, 19, 20],
                 images_in_acquisition=20)
    verdict = assess(StudyIndex.from_folder(tmp_path), T0, _at(0.5), CFG)
    assert verdict.readiness is Readiness.WAITING
    assert "17 of 20 expected images" in verdict.gaps[0].problems


def test_enhanced_missing_frame_detected_from_functional_groups(tmp_path: Path) -> None:
    st = generate_uid()
    write_enhanced(tmp_path, st, "T1W_TSE", tr=550, te=10, acquisition_contrast="T1", frames=12,
                   skip=[5])
    verdict = assess(StudyIndex.from_folder(tmp_path), T0, _at(0.5), CFG)
    problems = verdict.gaps[0].problems
    assert "11 of 12 expected images" in problems
    assert any("slice position(s) missing" in p for p in problems)


def test_multi_volume_series_with_repeated_positions_is_complete(tmp_path: Path) -> None:
    # two echoes at every location (positions repeat): not a gap
    st = generate_uid()
    write_series(tmp_path, st, "t2_dual_echo", tr=3000, te=90, n=10)
    for f in sorted(tmp_path.rglob("*.dcm")):
        import pydicom

        ds = pydicom.dcmread(f)
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = int(ds.InstanceNumber) + 10
        ds.save_as(f.with_name(f"b{f.name}"))
    verdict = assess(StudyIndex.from_folder(tmp_path), T0, _at(0.5), CFG)
    assert verdict.readiness is Readiness.READY


def test_siemens_fixture_is_complete(siemens_study: Path) -> None:
    verdict = assess(StudyIndex.from_folder(siemens_study), T0, _at(20), SelectConfig())
    assert verdict.readiness is Readiness.READY, verdict.gaps
