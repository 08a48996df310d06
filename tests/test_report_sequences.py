"""The SR names the MR sequences a multi-sequence classifier used (TID 4019 Algorithm Parameters)."""

from __future__ import annotations

from pathlib import Path

from report_helpers import dciodvfy, dsrdump, inputs, source_and_mask

from node.report import write_report
from node.synthetic.study import StudySpec, generate_study


def test_sr_names_the_sequences_only_for_the_multi_sequence_model(tmp_path: Path) -> None:
    res = generate_study(tmp_path / "study", StudySpec(seed=3, max_matrix=64))
    src, mask = source_and_mask(res.study_dir / "S0002")
    multi = write_report(tmp_path / "multi", src, mask,
                         inputs(sequences=("T1", "T1-GD", "T2/T2-FS/STIR")))
    assert dciodvfy(multi.sr_path).errors == []
    assert "sequences: T1, T1-GD, T2/T2-FS/STIR" in dsrdump(multi.sr_path)
    t1 = write_report(tmp_path / "t1", src, mask, inputs())
    assert "sequences:" not in dsrdump(t1.sr_path)
