"""Selection on `lipo-node synth study` outputs: three vendors, classic and Enhanced MR, with
misleading or empty descriptions; the truth (truth/meta.json) names the T1 series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from node.select import Readiness, SelectConfig, SelectionRules, StudyIndex, assess, choose_series
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
    study = StudyIndex.from_folder(tmp_path)
    now = datetime.now(UTC)
    verdict = assess(study, now - timedelta(seconds=11), now, SelectConfig())
    assert verdict.readiness is Readiness.READY, verdict.gaps  # nothing missing: no false alarm
    choice = choose_series(study, SelectionRules())
    acceptable = {truth.t1_series_uid, *truth.meta["t1_alternative_series_uids"]}
    assert choice.series_uid in acceptable, [(s.description, s.score, s.reasons) for s in choice.scores]
    assert not choice.uncertain
    roles = {s.uid: s.role for s in truth.series}
    for s in choice.scores:  # every distractor scores below the choice, whatever its name says
        if roles.get(s.series_uid) in ("stir", "t2_fs", "t1_fs_post", "localizer", "derived"):
            assert s.score < choice.score


EXTRA_CASES = [(seed, vendor, enhanced) for seed, (vendor, enhanced) in enumerate(
    [("siemens", False), ("ge", False), ("philips", False), ("siemens", True), ("ge", True),
     ("philips", True)], start=41)]
_NEVER = {"stir", "t2_fs", "t1_fs_post", "localizer", "derived", "dixon_opp", "dixon_water", "dixon_fat",
          "fieldmap_mag", "fieldmap_phase", "subtraction"}


@pytest.mark.parametrize(("seed", "vendor", "enhanced"), EXTRA_CASES)
def test_synthetic_extra_series_never_beat_a_plain_t1(tmp_path: Path, seed: int, vendor: str,
                                                       enhanced: bool) -> None:
    """Studies with MP-RAGE, a Dixon quartet, a B0 field map (magnitude of 2 echoes + phase) and
    a subtraction: the choice is a plain T1 (SE/TSE, MP-RAGE or Dixon in-phase), and without the
    SE/TSE and MP-RAGE series the Dixon in-phase image is chosen."""
    import shutil

    spec = StudySpec(seed=seed, vendor=vendor, enhanced=enhanced, max_matrix=64, misleading=False,
                     extra_series=True)
    truth = generate_study(tmp_path, spec)
    study = StudyIndex.from_folder(tmp_path)
    choice = choose_series(study, SelectionRules())
    roles = {s.uid: s.role for s in truth.series}
    assert roles[choice.series_uid] in ("t1", "t1_second", "mprage", "dixon_in"), \
        [(s.description, s.score, s.reasons) for s in choice.scores]
    assert not choice.uncertain
    for s in choice.scores:
        if roles.get(s.series_uid) in _NEVER:
            assert s.score < choice.score, (s.description, s.reasons)
    mprage = next(s for s in choice.scores if roles.get(s.series_uid) == "mprage")
    assert any("inversion-prepared gradient echo" in r for r in mprage.reasons), mprage.reasons
    for info in truth.series:  # what if the site sent only the extras?
        if info.role in ("t1", "t1_second", "mprage"):
            shutil.rmtree(info.folder)
    choice = choose_series(StudyIndex.from_folder(tmp_path), SelectionRules())
    assert roles[choice.series_uid] == "dixon_in", [(s.description, s.reasons) for s in choice.scores]
