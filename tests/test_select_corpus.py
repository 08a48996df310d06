"""T1 selection on the committed real-vendor corpus (tests/data/select_corpus): 40 public MR
studies from Siemens, GE, Philips, Canon/Toshiba and UIH scanners, classic and Enhanced MR,
headers only. Every study has its expected answer and why in cases.yaml; SOURCES names origin
and licence. These are the studies the rules were fixed on (in-sample)."""

from __future__ import annotations

import tarfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from node.errors import NoT1Series
from node.select import SelectionRules, StudyIndex, choose_series
from node.select.rules import StudyContext, score_series

CORPUS = Path(__file__).parent / "data" / "select_corpus"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text())["cases"]
RULES = SelectionRules()


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("select_corpus")
    with tarfile.open(CORPUS / "studies.tar.xz") as tar:
        tar.extractall(root, filter="data")
    return root / "studies"


def _study(studies: Path, case_id: str) -> StudyIndex:
    return StudyIndex.from_folder(studies / case_id)


def test_corpus_meets_its_brief() -> None:
    vendors = Counter(c["vendor"] for c in CASES)
    assert len(CASES) >= 30 and len(vendors) >= 5, vendors
    assert {c["storage"] for c in CASES} == {"classic", "enhanced"}
    assert sum(c["expect"] is None for c in CASES) >= 8
    sources = (CORPUS / "SOURCES").read_text()
    for c in CASES:
        assert c["why"].strip(), c["id"]
        assert f"{c['id']} |" in sources, c["id"]
        assert (CORPUS / "LICENSES" / f"{c['source']['repo']}.txt").is_file()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_study_gets_its_expected_answer(studies: Path, case: dict) -> None:
    study = _study(studies, case["id"])
    assert study.series, "no DICOM extracted"
    expect = case["expect"]
    if expect is None:  # no study without a T1 gets a T1
        with pytest.raises(NoT1Series):
            choose_series(study, RULES)
        return
    wanted = [expect] if isinstance(expect, str) else expect
    choice = choose_series(study, RULES)
    assert choice.description in wanted, [(s.description, s.score, s.reasons) for s in choice.scores]
    assert not choice.uncertain, choice.reasons  # no real T1 study needs the human fallback


def _scores(studies: Path, case_id: str) -> dict[str, list]:
    study = _study(studies, case_id)
    ctx = StudyContext.of(study)
    out: dict[str, list] = {}
    for s in study.series.values():
        out.setdefault(s.description, []).append(score_series(s, RULES, ctx))
    return out


def test_mprage_is_t1_by_inversion_physics_whatever_tr(studies: Path) -> None:
    for case_id, desc in (("ge_architect_mprage_dti", "3D Ax T1 MP-RAGE_R22"),
                          ("siemens_xa30_enhanced_tfl", "anat-T1w_acq-tfl"),
                          ("siemens_xa30_classic_tfl", "anat-T1w_acq-tfl")):
        for sc in _scores(studies, case_id)[desc]:
            assert any("inversion-prepared gradient echo" in r for r in sc.reasons), sc.reasons
            assert not any("proton-density" in r for r in sc.reasons)


def test_field_maps_magnitude_and_phase_are_not_t1(studies: Path) -> None:
    scores = _scores(studies, "siemens_prisma_fieldmaps")
    phase = [sc for scs in scores.values() for sc in scs if not sc.eligible]
    assert phase and all("not magnitude" in sc.reasons[0] for sc in phase)
    mags = [sc for scs in scores.values() for sc in scs if sc.eligible]
    assert mags and all(any("field map" in r for r in sc.reasons) for sc in mags)
    philips = _scores(studies, "philips_dstream_dualecho_fieldmap")
    assert all(any("magnitude mixed with" in r for r in sc.reasons)
               for scs in philips.values() for sc in scs)


def test_enhanced_epi_is_detected_from_echo_planar_pulse_sequence(studies: Path) -> None:
    for scs in _scores(studies, "siemens_terra_xa60_enhanced").values():
        for sc in scs:
            assert not sc.eligible or any("EchoPlanarPulseSequence YES" in r or "DIFFUSION" in r
                                          for r in sc.reasons), sc.reasons


def test_raw_data_sharing_the_series_uid_does_not_hide_the_images(studies: Path) -> None:
    study = _study(studies, "philips_elition_classic_mprage")
    mprage = next(s for s in study.series.values() if s.description == "ADNI_Sag3D MPRAGE")
    assert mprage.non_image_objects == 1 and mprage.n_images == 12
    assert mprage.sop_class_uid == "1.2.840.10008.5.1.4.1.1.4"
