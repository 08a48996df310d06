"""Selection on `lipo-node synth study` outputs: three vendors, classic and Enhanced MR, with
misleading or empty descriptions; the truth (truth/meta.json) names the T1 series."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.select import SelectionRules, StudyIndex, choose_series
from node.synthetic.study import StudySpec, generate_study

CASES = [
    (seed, vendor, misleading, enhanced)
    for seed, (vendor, misleading, enhanced) in enumerate([
        ("siemens", True, False), ("ge", True, False), ("philips", True, False),
        ("siemens", False, True), ("ge", True, True), ("philips", False, True),
    ], start=11)
]


@pytest.mark.parametrize(("seed", "vendor", "misleading", "enhanced"), CASES)
def test_synthetic_study_t1_is_selected(tmp_path: Path, seed: int, vendor: str, misleading: bool,
                                        enhanced: bool) -> None:
    truth = generate_study(tmp_path, StudySpec(seed=seed, vendor=vendor, misleading=misleading,
                                               enhanced=enhanced, max_matrix=64))
    choice = choose_series(StudyIndex.from_folder(tmp_path), SelectionRules())
    acceptable = {truth.t1_series_uid, *truth.meta["t1_alternative_series_uids"]}
    assert choice.series_uid in acceptable, [(s.description, s.score, s.reasons) for s in choice.scores]
    assert not choice.uncertain
    roles = {s.uid: s.role for s in truth.series}
    for s in choice.scores:  # every distractor scores below the choice, whatever its name says
        if roles.get(s.series_uid) in ("stir", "t2_fs", "t1_fs_post", "localizer", "derived"):
            assert s.score < choice.score
