"""The SR names the MR sequences a multi-sequence classifier used (TID 4019 Algorithm Parameters)."""

from __future__ import annotations

from pathlib import Path

import pydicom
from report_helpers import dciodvfy, dsrdump, inputs, source_and_mask

from node.report import write_report
from node.synthetic.study import StudySpec, generate_study


def _texts(ds: pydicom.Dataset) -> list[tuple[str, str]]:
    out = []
    for item in getattr(ds, "ContentSequence", []):
        if item.ValueType == "TEXT":
            out.append((item.ConceptNameCodeSequence[0].CodeMeaning, item.TextValue))
        out += _texts(item)
    return out


def test_sr_names_the_sequences_only_for_the_multi_sequence_model(tmp_path: Path) -> None:
    res = generate_study(tmp_path / "study", StudySpec(seed=3, max_matrix=64))
    src, mask = source_and_mask(res.study_dir / "S0002")
    multi = write_report(tmp_path / "multi", src, mask,
                         inputs(sequences=("T1", "T1-GD", "T2/T2-FS/STIR")))
    assert dciodvfy(multi.sr_path).errors == []
    assert '"Algorithm Parameters")="sequences: T1' in dsrdump(multi.sr_path)
    params = {v for k, v in _texts(pydicom.dcmread(multi.sr_path)) if k == "Algorithm Parameters"}
    assert params == {"sequences: T1, T1-GD, T2/T2-FS/STIR"}
    t1 = write_report(tmp_path / "t1", src, mask, inputs())
    assert not [k for k, _ in _texts(pydicom.dcmread(t1.sr_path)) if k == "Algorithm Parameters"]
