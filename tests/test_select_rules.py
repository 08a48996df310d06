"""T1 selection: real Siemens study, vendor naming, misleading names, Enhanced MR, config rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.uid import generate_uid
from select_helpers import CORONAL, SAGITTAL, write_enhanced, write_legacy_converted, write_series

from node.errors import NoT1Series
from node.select import SelectionRules, StudyIndex, choose_series
from node.select.config import Weights

RULES = SelectionRules()


def _desc(study: StudyIndex, uid: str) -> str:
    return study.series[uid].description


def test_siemens_fixture_picks_t1_fl2d_sag_not_dwi(siemens_study: Path) -> None:
    study = StudyIndex.from_folder(siemens_study)
    choice = choose_series(study, RULES)
    chosen = study.series[choice.series_uid]
    assert chosen.description == "t1_fl2d_sag"
    assert chosen.n_images == 35
    assert any("TR 300 ms / TE 2.46 ms is T1-weighted" in r for r in choice.reasons)
    dwi = next(s for s in choice.scores if "diff" in s.description)
    assert dwi.score < choice.score
    assert any("echo-planar" in r for r in dwi.reasons)
    assert not choice.uncertain


def test_cli_select_prints_table_and_json(siemens_study: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "node.cli", "select", str(siemens_study)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    marked = [line for line in out.splitlines() if line.startswith("*")]
    assert len(marked) == 1 and "t1_fl2d_sag" in marked[0]
    assert "ep2d_diff" in out
    from node.select.commands import _choice_json

    data = _choice_json(choose_series(StudyIndex.from_folder(siemens_study), RULES))
    assert data["description"] == "t1_fl2d_sag"
    assert len(data["series"]) == 2 and data["series"][1]["score"] < data["score"]
    json.dumps(data)  # serialisable as printed by --json


def test_siemens_names_pre_contrast_non_fs_t1_beats_distractors(tmp_path: Path) -> None:
    st = generate_uid()
    t1 = write_series(tmp_path, st, "t1_tse_tra", tr=550, te=11)
    write_series(tmp_path, st, "t2_tse_stir_tra", tr=4500, te=40, ti=150,
                 scanning_sequence=["SE", "IR"])
    write_series(tmp_path, st, "t1_tse_tra_fs_KM", tr=600, te=11, scan_options="FS",
                 contrast_agent="Gadovist")
    write_series(tmp_path, st, "localizer", tr=8.6, te=4, n=3,
                 image_type=("ORIGINAL", "PRIMARY", "LOCALIZER", "NONE"),
                 orientations=[(1, 0, 0, 0, 1, 0), (1, 0, 0, 0, 0, -1), (0, 1, 0, 0, 0, -1)])
    write_series(tmp_path, st, "t1_tse_tra_MPR_cor", tr=550, te=11, iop=CORONAL,
                 image_type=("DERIVED", "SECONDARY", "MPR"))
    study = StudyIndex.from_folder(tmp_path)
    choice = choose_series(study, RULES)
    assert choice.series_uid == t1
    by_desc = {s.description: s for s in choice.scores}
    assert not by_desc["localizer"].eligible
    assert any("STIR" in r for r in by_desc["t2_tse_stir_tra"].reasons)
    fs_km = by_desc["t1_tse_tra_fs_KM"].reasons
    assert any("fat suppressed (ScanOptions FS)" in r for r in fs_km)
    assert any("post-contrast (ContrastBolusAgent 'Gadovist')" in r for r in fs_km)
    assert any("derived" in r for r in by_desc["t1_tse_tra_MPR_cor"].reasons)
    assert not choice.uncertain


def test_ge_names(tmp_path: Path) -> None:
    st = generate_uid()
    write_series(tmp_path, st, "Cor STIR", tr=5000, te=42, ti=160, scanning_sequence=["SE", "IR"],
                 iop=CORONAL, manufacturer="GE MEDICAL SYSTEMS")
    t1 = write_series(tmp_path, st, "Ax T1 FSE", tr=520, te=9, scan_options=["FAST_GEMS"],
                      manufacturer="GE MEDICAL SYSTEMS")
    write_series(tmp_path, st, "Ax T2 FSE FS", tr=4200, te=85, scan_options=["FAST_GEMS", "FS"],
                 manufacturer="GE MEDICAL SYSTEMS")
    write_series(tmp_path, st, "Ax T1 FSE +C FS", tr=540, te=9, scan_options=["FAST_GEMS", "FS"],
                 contrast_agent="10ML DOTAREM", manufacturer="GE MEDICAL SYSTEMS")
    assert choose_series(StudyIndex.from_folder(tmp_path), RULES).series_uid == t1


def test_philips_names_spir_is_not_plain_t1(tmp_path: Path) -> None:
    st = generate_uid()
    t1 = write_series(tmp_path, st, "T1W_TSE", tr=600, te=15, manufacturer="Philips")
    spir = write_series(tmp_path, st, "T1W_SPIR", tr=620, te=15, manufacturer="Philips")
    write_series(tmp_path, st, "T2W_TSE", tr=3500, te=100, manufacturer="Philips")
    choice = choose_series(StudyIndex.from_folder(tmp_path), RULES)
    assert choice.series_uid == t1
    spir_score = next(s for s in choice.scores if s.series_uid == spir)
    assert any("fat suppression" in r for r in spir_score.reasons)


def test_canon_names(tmp_path: Path) -> None:
    st = generate_uid()
    kw = {"manufacturer": "CANON_MEC"}
    write_series(tmp_path, st, "T2WI_FSE_AX", tr=4500, te=96, **kw)
    write_series(tmp_path, st, "STIR_COR", tr=5200, te=60, ti=170, scanning_sequence=["IR", "SE"],
                 iop=CORONAL, **kw)
    t1 = write_series(tmp_path, st, "T1WI_SE_AX", tr=480, te=10, **kw)
    write_series(tmp_path, st, "T1WI_FatSat_AX_+C", tr=500, te=10, contrast_agent="Gadovist",
                 scan_options="FS", **kw)
    assert choose_series(StudyIndex.from_folder(tmp_path), RULES).series_uid == t1


def test_misleading_and_empty_names_physics_decide(tmp_path: Path) -> None:
    st = generate_uid()
    # says T1 but is T2 (TR 4000 / TE 90); says T2 but is T1 (TR 500 / TE 10); the true T1
    # with empty names must also beat a lying 'T1' label
    liar_t1 = write_series(tmp_path, st, "t1_tse_tra", tr=4000, te=90)
    liar_t2 = write_series(tmp_path, st, "T2 ax", tr=500, te=10, iop=SAGITTAL)
    study = StudyIndex.from_folder(tmp_path)
    choice = choose_series(study, RULES)
    assert choice.series_uid == liar_t2
    assert next(s for s in choice.scores if s.series_uid == liar_t1).score < 0

    empty_dir = tmp_path / "empty"
    st2 = generate_uid()
    blank = write_series(empty_dir, st2, "", tr=480, te=12)
    write_series(empty_dir, st2, "T1 ax", tr=5200, te=95)
    choice2 = choose_series(StudyIndex.from_folder(empty_dir), RULES)
    assert choice2.series_uid == blank
    assert any("no SeriesDescription" in r for r in choice2.reasons)


def test_enhanced_mr_functional_groups(tmp_path: Path) -> None:
    st = generate_uid()
    t1 = write_enhanced(tmp_path, st, "", tr=550, te=10, acquisition_contrast="T1", frames=24)
    write_enhanced(tmp_path, st, "", tr=4000, te=100, acquisition_contrast="T2", frames=24)
    write_enhanced(tmp_path, st, "", tr=550, te=10, acquisition_contrast="T1", frames=24,
                   fat_suppression="FAT", contrast=True)
    study = StudyIndex.from_folder(tmp_path)
    assert study.series[t1].n_images == 24
    assert study.series[t1].tr_ms == 550 and study.series[t1].te_ms == 10
    choice = choose_series(study, RULES)
    assert choice.series_uid == t1
    assert "+30 AcquisitionContrast T1" in choice.reasons
    fs = [s for s in choice.scores if s.series_uid != t1 and any("Spectrally" in r for r in s.reasons)]
    assert fs and any("ContrastBolusAgentAdministered YES" in r for r in fs[0].reasons)


def test_legacy_converted_enhanced_reads_unassigned_converted_attributes(tmp_path: Path) -> None:
    st = generate_uid()
    legacy = write_legacy_converted(tmp_path, st, "", tr=520, te=12)
    write_series(tmp_path, st, "", tr=4200, te=95)
    study = StudyIndex.from_folder(tmp_path)
    assert study.series[legacy].n_images == 12 and study.series[legacy].tr_ms == 520
    choice = choose_series(study, RULES)
    assert choice.series_uid == legacy
    assert "+50 TR 520 ms / TE 12 ms is T1-weighted" in choice.reasons


def test_no_t1_is_a_coded_outcome(tmp_path: Path) -> None:
    st = generate_uid()
    write_series(tmp_path, st, "t2_tse_tra", tr=4000, te=90)
    write_series(tmp_path, st, "ep2d_diff", tr=3000, te=70, scanning_sequence="EP",
                 image_type=("ORIGINAL", "PRIMARY", "DIFFUSION", "NONE"))
    with pytest.raises(NoT1Series) as err:
        choose_series(StudyIndex.from_folder(tmp_path), RULES)
    assert err.value.code == "no_t1_series"
    assert "2 series, none T1-weighted" in str(err.value)


def test_close_runner_up_without_physics_flags_uncertain(tmp_path: Path) -> None:
    st = generate_uid()
    write_series(tmp_path, st, "t1_se_tra", tr=None, te=None)
    write_series(tmp_path, st, "T1 ax", tr=None, te=None)
    choice = choose_series(StudyIndex.from_folder(tmp_path), RULES)
    assert choice.uncertain and choice.margin < RULES.uncertain_margin
    assert "(uncertain)" in choice.reasons[-1]
    assert any("TR/TE missing" in r for r in choice.reasons)


def test_close_fat_suppressed_runner_up_flags_uncertain(tmp_path: Path) -> None:
    st = generate_uid()
    write_series(tmp_path, st, "t1_tse_cor", tr=550, te=11, iop=CORONAL)
    write_series(tmp_path, st, "t1_tse_tra_fs", tr=550, te=11, scan_options="FS")
    site = SelectionRules(weights=Weights(fat_sat=-2, name_fat_sat=0))
    choice = choose_series(StudyIndex.from_folder(tmp_path), site)
    assert choice.uncertain  # physics differ (fat suppression) and the scores are close


def test_two_plain_t1_orientations_are_interchangeable_not_uncertain(tmp_path: Path) -> None:
    st = generate_uid()
    tra = write_series(tmp_path, st, "t1_tse_tra", tr=550, te=11)
    write_series(tmp_path, st, "t1_tse_cor", tr=560, te=12, iop=CORONAL)
    choice = choose_series(StudyIndex.from_folder(tmp_path), RULES)
    assert choice.series_uid == tra  # axial preferred by the orientation weight
    assert choice.margin < RULES.uncertain_margin and not choice.uncertain
    assert "either serves" in choice.reasons[-1]


def test_site_rules_change_the_decision(tmp_path: Path) -> None:
    st = generate_uid()
    plain = write_series(tmp_path, st, "t1_tse_tra", tr=550, te=11)
    fs = write_series(tmp_path, st, "t1_tse_tra_fs", tr=550, te=11, scan_options="FS")
    study = StudyIndex.from_folder(tmp_path)
    assert choose_series(study, RULES).series_uid == plain
    site = SelectionRules(weights=Weights(fat_sat=40, name_fat_sat=0))
    assert choose_series(study, site).series_uid == fs


def test_ge_flow_saturation_scan_option_is_not_fat_suppression(tmp_path: Path) -> None:
    st = generate_uid()
    ge = write_series(tmp_path, st, "Ax T1 FSE", tr=600, te=10, manufacturer="GE MEDICAL SYSTEMS",
                      scan_options=["FAST_GEMS", "FSA_GEMS", "SAT_GEMS"])
    choice = choose_series(StudyIndex.from_folder(tmp_path), RULES)
    assert choice.series_uid == ge
    assert not any("fat suppressed" in r for r in choice.reasons)


def test_mprage_name_is_not_a_reformat_and_reasons_name_the_cause(tmp_path: Path) -> None:
    st = generate_uid()
    mprage = write_series(tmp_path, st, "t1_mprage_sag", tr=2300, te=2.3, ti=900, iop=SAGITTAL,
                          scanning_sequence="GR", sequence_variant=["SK", "SP", "MP"])
    mpr = write_series(tmp_path, st, "t1_mprage_sag_MPR_tra", tr=2300, te=2.3, ti=900,
                       scanning_sequence="GR", sequence_variant=["SK", "SP", "MP"])
    choice = choose_series(StudyIndex.from_folder(tmp_path), RULES)
    assert choice.series_uid == mprage
    assert not any("reformat" in r or "derived" in r for r in choice.reasons)
    mpr_score = next(s for s in choice.scores if s.series_uid == mpr)
    assert any("name 't1_mprage_sag_MPR_tra' suggests a reformat" in r for r in mpr_score.reasons)


def test_dixon_in_phase_is_chosen_over_opposed_water_and_fat(tmp_path: Path) -> None:
    st = generate_uid()
    uids = {kind: write_series(tmp_path, st, f"t1_vibe_dixon_tra_{kind}", tr=6.7, te=te,
                               scanning_sequence="GR", sequence_variant=["SK", "SP"],
                               image_type=("DERIVED" if kind in ("W", "F") else "ORIGINAL", "PRIMARY",
                                           "DIXON", token))
            for kind, te, token in (("opp", 1.23, "OPP_PHASE"), ("in", 2.46, "IN_PHASE"),
                                    ("W", 2.46, "WATER"), ("F", 2.46, "FAT"))}
    choice = choose_series(StudyIndex.from_folder(tmp_path), RULES)
    assert choice.series_uid == uids["in"]
    by_uid = {s.series_uid: s for s in choice.scores}
    assert any("opposed-phase" in r for r in by_uid[uids["opp"]].reasons)
    assert any("Dixon water" in r for r in by_uid[uids["W"]].reasons)
    assert by_uid[uids["F"]].score < by_uid[uids["W"]].score < choice.score


def test_phase_images_are_ineligible_so_no_uid_tie_break(tmp_path: Path) -> None:
    st = generate_uid()
    mag = write_series(tmp_path, st, "t1_gre_tra", tr=300, te=2.5, scanning_sequence="GR",
                       image_type=("ORIGINAL", "PRIMARY", "M", "ND"))
    write_series(tmp_path, st, "t1_gre_tra", tr=300, te=2.5, scanning_sequence="GR",
                 image_type=("ORIGINAL", "PRIMARY", "P", "ND"))
    choice = choose_series(StudyIndex.from_folder(tmp_path), RULES)
    assert choice.series_uid == mag and not choice.uncertain
    assert [s.eligible for s in choice.scores].count(False) == 1


def test_site_rules_prefer_exclude_and_pin_are_shown_in_reasons(tmp_path: Path) -> None:
    from node.select.config import SiteRule

    st = generate_uid()
    tra = write_series(tmp_path, st, "t1_tse_tra", tr=550, te=11, protocol="MSK t1_tse_tra")
    cor = write_series(tmp_path, st, "t1_tse_cor", tr=550, te=11, iop=CORONAL, protocol="MSK t1_tse_cor")
    study = StudyIndex.from_folder(tmp_path)
    assert choose_series(study, RULES).series_uid == tra
    prefer = SelectionRules(site_rules=[SiteRule(name="coronal first", description=r"_cor$", points=30)])
    choice = choose_series(study, prefer)
    assert choice.series_uid == cor and "+30 site rule 'coronal first'" in choice.reasons
    exclude = SelectionRules(site_rules=[SiteRule(name="no axial", action="exclude", protocol="tra")])
    choice = choose_series(study, exclude)
    assert choice.series_uid == cor
    assert "excluded by site rule 'no axial'" in next(
        s for s in choice.scores if s.series_uid == tra).reasons[0]
    pin = SelectionRules(site_rules=[SiteRule(name="station 1 pins cor", action="pin",
                                              manufacturer="siemens", description="cor")])
    assert choose_series(study, pin).series_uid == cor
    with pytest.raises(ValueError, match="matches nothing"):
        SiteRule(name="empty")
