"""Site-editable DICOM templates (``dicom_templates/*.json``), validated with pydantic.

Everything a site may want to change in the SEG/SR without touching code lives there: codes
(PS3.16 code triplets), texts of series descriptions, equipment identification for the
Contributing Equipment Sequence (PS3.3 C.12.1.1.5; IHE AI Results (AIR) requires the AI
device to identify itself there) and the device observer of the SR (TID 1004).
"""

from __future__ import annotations

import json
from pathlib import Path

import highdicom as hd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from node.errors import ConfigError

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "dicom_templates"
DEFAULT_TEMPLATES = TEMPLATES_DIR / "lipo_node_v1.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeT(_Model):
    """A code triplet (PS3.3 8.8 Code Sequence Macro)."""

    value: str = Field(min_length=1, max_length=64)
    scheme: str = Field(min_length=1, max_length=16)
    meaning: str = Field(min_length=1, max_length=64)

    def concept(self, private: PrivateScheme | None = None) -> hd.sr.CodedConcept:
        version = private.version if private and self.scheme == private.designator else None
        return hd.sr.CodedConcept(self.value, self.scheme, self.meaning, scheme_version=version)


class PrivateScheme(_Model):
    designator: str = Field(pattern=r"^99[A-Z0-9_]{1,14}$")
    name: str
    version: str
    responsible_organization: str


class EquipmentT(_Model):
    manufacturer: str = Field(max_length=64)
    model_name: str = Field(max_length=64)
    device_serial_number: str = Field(max_length=64)
    institution_name: str | None = None
    station_name: str | None = Field(None, max_length=16)
    device_observer_uid: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$", max_length=64)
    device_observer_name: str = Field(max_length=64)
    purpose_of_reference: CodeT
    contribution_description: str = Field(max_length=64)


class AlgorithmT(_Model):
    name: str = Field(max_length=64)
    family: CodeT
    source: str | None = None


class SegmentT(_Model):
    label: str = Field(max_length=64)
    category: CodeT
    type: CodeT
    display_color_rgb: tuple[int, int, int]
    anatomic_regions: dict[str, CodeT]

    @field_validator("display_color_rgb")
    @classmethod
    def _rgb(cls, v: tuple[int, int, int]) -> tuple[int, int, int]:
        if not all(0 <= c <= 255 for c in v):
            raise ValueError("display_color_rgb components must be 0..255")
        return v


class SrT(_Model):
    procedure_reported: CodeT
    finding_type: CodeT
    finding_category: CodeT
    tracking_identifier: str = Field(max_length=64)
    volume: CodeT
    volume_unit: CodeT
    diameter: CodeT
    diameter_unit: CodeT
    alt_probability: CodeT
    alt_probability_unit: CodeT
    predicted_class: CodeT
    classes: dict[str, CodeT]
    qc_status: CodeT
    qc_values: dict[str, CodeT]
    segmentation_method: CodeT
    segmentation_method_values: dict[str, CodeT]
    ood_flag: CodeT
    yes: CodeT
    no: CodeT
    series_selection: CodeT = Field(default_factory=lambda: CodeT(
        value="T1SELECT", scheme="99LIPONODE", meaning="T1 series selection"))
    series_selection_values: dict[str, CodeT] = Field(default_factory=lambda: {
        "automatic": CodeT(value="T1SELAUTO", scheme="99LIPONODE", meaning="T1 series selected by rules"),
        "manual": CodeT(value="T1SELMANUAL", scheme="99LIPONODE",
                        meaning="T1 series picked by a reviewer"),
    })

    @field_validator("predicted_class")
    @classmethod
    def _not_finding(cls, v: CodeT) -> CodeT:
        # ARCHITECTURE.md: (121071, DCM, "Finding") is not a qualitative-evaluation concept
        if (v.value, v.scheme) == ("121071", "DCM"):
            raise ValueError("(121071, DCM, Finding) must not name a qualitative evaluation")
        return v


class DescriptionsT(_Model):
    seg_series: str = Field(max_length=64)
    sr_series: str
    content_label: str = Field(pattern=r"^[A-Z0-9_ ]{1,16}$")
    headline: str
    label_text: dict[str, str]
    method_short: dict[str, str]
    amended_prefix: str = Field(max_length=16)
    seg_series_number: int = Field(ge=1, le=2**31 - 1)
    sr_series_number: int = Field(ge=1, le=2**31 - 1)
    key_image_series: str = "{headline}"
    key_image_series_number: int = Field(9903, ge=1, le=2**31 - 1)


class Templates(_Model):
    """One validated template file; ``template_version`` goes into the UID entropy."""

    template_version: str
    private_scheme: PrivateScheme
    equipment: EquipmentT
    algorithm: AlgorithmT
    segment: SegmentT
    sr: SrT
    descriptions: DescriptionsT

    @field_validator("sr")
    @classmethod
    def _complete_value_sets(cls, v: SrT) -> SrT:
        need = {"classes": {"lipoma", "alt"}, "qc_values": {"pass", "fail", "reviewed"},
                "segmentation_method_values": {"automatic", "interactive", "manual"}}
        for field, keys in need.items():
            missing = keys - set(getattr(v, field))
            if missing:
                raise ValueError(f"sr.{field} lacks {sorted(missing)}")
        return v

    def code(self, c: CodeT) -> hd.sr.CodedConcept:
        return c.concept(self.private_scheme)


def load_templates(path: str | Path | None = None) -> Templates:
    """Read and validate a template file; :class:`ConfigError` names the bad key."""
    p = Path(path) if path is not None else DEFAULT_TEMPLATES
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read DICOM templates {p}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"DICOM templates {p} are not valid JSON: {exc}") from exc
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if not k.startswith("_")}
    try:
        return Templates.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid DICOM templates {p}: {problems}") from exc
