"""Every coded concept our SEG, SR and key image carry, listed with its scheme.

Standard schemes (DCM, SCT, NCIt, UCUM, RFC5646) wherever one names the concept; the private
99LIPONODE codes are exactly those no standard code names (docs/viewer/ihe_air.md says why).
A new code, or a private one, makes this test fail until it is listed here on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from report_helpers import inputs, source_and_mask

from node.report import load_templates, write_report
from node.synthetic.study import StudySpec, generate_study

Code = tuple[str, str, str]  # scheme, value, meaning

STANDARD_SCHEMES = {"DCM", "SCT", "NCIt", "UCUM", "RFC5646"}
SEG_CODES: set[Code] = {
    ("DCM", "109101", "Acquisition Equipment"), ("DCM", "109102", "Processing Equipment"),
    ("DCM", "113076", "Segmentation"), ("DCM", "121322", "Source image for image processing operation"),
    ("DCM", "123110", "Artificial Intelligence"), ("SCT", "108369006", "Neoplasm"),
    ("SCT", "49755003", "Morphologically abnormal structure"), ("SCT", "68367000", "Thigh"),
}
KEY_IMAGE_CODES: set[Code] = {("DCM", "109101", "Acquisition Equipment"),
                              ("DCM", "109102", "Processing Equipment")}
SR_STRUCTURE: set[Code] = {  # TID 1500/1410/1411/1004/4019 scaffolding, all DCM/SCT
    ("DCM", "109101", "Acquisition Equipment"), ("DCM", "109102", "Processing Equipment"),
    ("DCM", "111000", "Algorithm Family"), ("DCM", "111001", "Algorithm Name"),
    ("DCM", "111003", "Algorithm Version"), ("DCM", "111030", "Image Region"),
    ("DCM", "112039", "Tracking Identifier"), ("DCM", "112040", "Tracking Unique Identifier"),
    ("DCM", "121005", "Observer Type"), ("DCM", "121007", "Device"),
    ("DCM", "121012", "Device Observer UID"), ("DCM", "121013", "Device Observer Name"),
    ("DCM", "121014", "Device Observer Manufacturer"), ("DCM", "121015", "Device Observer Model Name"),
    ("DCM", "121016", "Device Observer Serial Number"),
    ("DCM", "121049", "Language of Content Item and Descendants"),
    ("DCM", "121058", "Procedure reported"), ("DCM", "121071", "Finding"),
    ("DCM", "121191", "Referenced Segment"), ("DCM", "121232", "Source Series for Segmentation"),
    ("DCM", "122405", "Algorithm Manufacturer"), ("DCM", "123110", "Artificial Intelligence"),
    ("DCM", "125007", "Measurement Group"), ("DCM", "126000", "Imaging Measurement Report"),
    ("DCM", "126010", "Imaging Measurements"), ("RFC5646", "en-US", "English (United States)"),
    ("SCT", "108369006", "Neoplasm"), ("SCT", "260753009", "Source"),
    ("SCT", "276214006", "Finding category"), ("SCT", "363679005", "Imaging procedure"),
    ("SCT", "363698007", "Finding Site"), ("SCT", "49755003", "Morphologically abnormal structure"),
    ("SCT", "68367000", "Thigh"),
}
SR_FINDINGS: set[Code] = {  # what the report states
    ("99LIPONODE", "PALT", "P(ALT)"), ("UCUM", "%", "Percent"),
    ("SCT", "118565006", "Volume"), ("UCUM", "ml", "milliliter"),
    ("SCT", "103339001", "Long axis"), ("UCUM", "mm", "millimeter"),
    ("SCT", "116676008", "Associated morphology"),
    ("DCM", "122554", "Segmentation Method"),
    ("99LIPONODE", "QCSTATUS", "Segmentation quality control"),
    ("99LIPONODE", "OOD", "Outside training distribution"),
}
PRIVATE_ALLOWED = {"PALT", "QCSTATUS", "QCPASS", "QCFAIL", "QCREVIEWED", "OOD",
                   "SEGAUTO", "SEGINTERACTIVE", "SEGMANUAL",
                   "T1SELECT", "T1SELAUTO", "T1SELMANUAL"}  # only when a reviewer picked the series


def codes(ds: pydicom.Dataset) -> set[Code]:
    """Every Code Sequence item anywhere in ``ds`` (PS3.3 8.8)."""
    found: set[Code] = set()
    for el in ds:
        if el.VR == "SQ":
            for item in el.value:
                if "CodeValue" in item:
                    found.add((item.CodingSchemeDesignator, str(item.CodeValue), str(item.CodeMeaning)))
                found |= codes(item)
    return found


@pytest.fixture(scope="module")
def axial_t1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    res = generate_study(tmp_path_factory.mktemp("codes"), StudySpec(seed=3, max_matrix=64))
    return res.study_dir / "S0002"


@pytest.mark.parametrize(("label", "qc", "method", "ood", "values"), [
    ("alt", "pass", "automatic", False,
     {("NCIt", "C4250", "Well Differentiated Liposarcoma"),
      ("99LIPONODE", "QCPASS", "Quality control passed"),
      ("99LIPONODE", "SEGAUTO", "Automatic segmentation"), ("SCT", "373067005", "No")}),
    ("lipoma", "reviewed", "interactive", True,
     {("SCT", "134328007", "Lipoma"), ("99LIPONODE", "QCREVIEWED", "Reviewed and accepted by clinician"),
      ("99LIPONODE", "SEGINTERACTIVE", "Interactive segmentation (extreme points)"),
      ("SCT", "373066001", "Yes")}),
])
def test_every_coded_concept_and_scheme_is_listed(
    axial_t1: Path, tmp_path: Path, label: str, qc: str, method: str, ood: bool, values: set[Code]
) -> None:
    src, mask = source_and_mask(axial_t1)
    out = write_report(tmp_path, src, mask, inputs(label=label, qc_status=qc, seg_method=method, ood=ood))
    assert codes(pydicom.dcmread(out.sr_path)) == SR_STRUCTURE | SR_FINDINGS | values
    assert codes(pydicom.dcmread(out.seg_path)) == SEG_CODES
    assert codes(pydicom.dcmread(out.key_image_path)) == KEY_IMAGE_CODES


def test_private_codes_only_where_no_standard_code_exists() -> None:
    tpl = load_templates()
    everything = [tpl.algorithm.family, tpl.equipment.purpose_of_reference, tpl.segment.category,
                  tpl.segment.type, *tpl.segment.anatomic_regions.values()]
    for _name, value in tpl.sr:
        if isinstance(value, dict):
            everything += list(value.values())
        elif hasattr(value, "scheme"):
            everything.append(value)
    private = {c.value for c in everything if c.scheme == tpl.private_scheme.designator}
    assert private == PRIVATE_ALLOWED
    assert {c.scheme for c in everything} - {tpl.private_scheme.designator} <= STANDARD_SCHEMES
    assert tpl.sr.classes["alt"].scheme == "NCIt" and tpl.sr.classes["lipoma"].scheme == "SCT"
