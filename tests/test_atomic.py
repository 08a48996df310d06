"""One atomic writer: node.atomic writes whole files, leaves no temporary behind on failure, and
no stage, runner or worklist module renames files by itself."""

import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from node import atomic
from node.jobs.folder import Artefact, JobFolder
from node.jobs.model import JobResult, JobState

NODE = Path(__file__).resolve().parents[1] / "node"
#: the only modules allowed to rename files: the writer itself and the spool's batched writer
#: and the synthetic cohort's whole-folder swap (a generator, not a stage output)
ALLOWED = {NODE / "atomic.py", NODE / "store" / "spool.py", NODE / "synthetic" / "cohort.py"}


def test_no_module_renames_files_by_itself():
    offenders = []
    for path in sorted(NODE.rglob("*.py")):
        if path in ALLOWED:
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bos\.(replace|rename)\(|\.rename\(|\.replace\(\s*\w+\s*,\s*\w*path", line) \
                    and "str.replace" not in line:
                offenders.append(f"{path.relative_to(NODE.parent)}:{no}: {line.strip()}")
    assert offenders == []


def test_write_text_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "a.json"
    atomic.write_text(target, "one")
    atomic.write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


def test_failed_write_keeps_old_file_and_removes_temporary(tmp_path):
    target = tmp_path / "a.bin"
    atomic.write_bytes(target, b"old")

    def half(tmp: Path) -> None:
        tmp.write_bytes(b"ha")
        raise OSError("disk gone")

    with pytest.raises(OSError):
        atomic.write_with(target, half)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_image_keeps_its_format_and_geometry(tmp_path):
    image = sitk.GetImageFromArray(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    image.SetSpacing((0.5, 0.7, 3.0))
    folder = JobFolder(tmp_path / "job1")
    folder.write_image(Artefact.MASK, image)
    back = sitk.ReadImage(str(folder / Artefact.MASK))
    assert back.GetSpacing() == pytest.approx((0.5, 0.7, 3.0))
    assert np.array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(image))


def test_job_folder_round_trips_the_result(tmp_path):
    folder = JobFolder(tmp_path / "abc")
    assert not folder.has_result()
    folder.save_result(JobResult(job_id="abc", study_uid="1.2.3", state=JobState.QC))
    assert folder.has_result() and folder.read_result().state is JobState.QC
    assert folder.job_id == "abc"
    assert folder.relative(folder / Artefact.REPORT / "sr-1.dcm") == "report/sr-1.dcm"


def test_report_folder_name_matches_the_report_writer():
    from node.report.write import REPORT_DIR

    assert Artefact.REPORT.value == REPORT_DIR
