"""Configuration section ``select`` (see config.yaml): completeness timers and T1 rules.

Weights are additive points; a series' score is the sum of the terms that fired, and each term
is reported with its reason so a site can see which rule to tune. Physics terms (TR/TE/TI,
fat suppression, contrast, echo-planar) carry larger weights than name patterns on purpose:
about one study in ten has empty or misleading SeriesDescription/ProtocolName.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Range(BaseModel):
    """Closed interval [lo, hi] in the tag's unit (ms for TR/TE/TI)."""

    model_config = ConfigDict(extra="forbid")
    lo: float
    hi: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.lo > self.hi:
            raise ValueError(f"range lo {self.lo} > hi {self.hi}")
        return self

    def __contains__(self, value: float) -> bool:
        return self.lo <= value <= self.hi


class Weights(BaseModel):
    """Points added (positive) or removed (negative) when a rule fires."""

    model_config = ConfigDict(extra="forbid")
    t1_physics: float = Field(50, description="TR and TE both in the T1 ranges")
    t2_physics: float = Field(-60, description="TE in the T2 range (T2/PD/DWI contrast)")
    pd_physics: float = Field(-35, description="long TR with short TE: proton density")
    stir: float = Field(-70, description="inversion recovery with a short TI (STIR/TIRM)")
    flair: float = Field(-50, description="inversion recovery with a long TI (FLAIR)")
    echo_planar: float = Field(-70, description="ScanningSequence EP or ImageType DIFFUSION")
    acquisition_contrast_t1: float = Field(30, description="Enhanced MR AcquisitionContrast T1")
    acquisition_contrast_other: float = Field(-40, description="AcquisitionContrast not T1")
    fat_sat: float = Field(-25, description="fat suppression (ScanOptions FS, SPIR, spectral)")
    contrast: float = Field(-30, description="contrast agent given (ContrastBolusAgent & co)")
    derived: float = Field(-45, description="ImageType DERIVED/SECONDARY or reformat name")
    few_slices: float = Field(-25, description="fewer slices than min_slices")
    name_t1: float = Field(15, description="description/protocol names T1")
    name_not_t1: float = Field(-15, description="description/protocol names T2/STIR/PD/DWI")
    name_fat_sat: float = Field(-10, description="description/protocol names fat suppression")
    name_contrast: float = Field(-10, description="description/protocol names contrast")
    spin_echo: float = Field(5, description="spin echo (classic T1 SE/TSE/FSE)")
    field_map: float = Field(-80, description="B0 field map / multi-echo source (phase mixed in, "
                             "several echoes, phase sibling, field-map sequence code)")
    research_mode: float = Field(-30, description="ScanningSequence RM without inversion (GE B0 maps)")
    dixon_in_phase: float = Field(5, description="Dixon in-phase: the conventional T1 GRE image")
    dixon_opposed: float = Field(-20, description="Dixon opposed-phase (fat-water cancellation)")
    dixon_fat: float = Field(-45, description="Dixon fat-only image (computed)")
    site_pin: float = Field(1000, description="a site rule with action pin")
    time_series: float = Field(-40, description="many images per slice position (fMRI, ASL, dynamics)")
    orientation: dict[str, float] = Field(
        default_factory=lambda: {"axial": 8.0, "coronal": 4.0, "sagittal": 0.0, "oblique": 0.0},
        description="points by slice orientation (axial preferred for extremity tumours)",
    )


class Patterns(BaseModel):
    """Case-insensitive regular expressions over SeriesDescription + ProtocolName + SequenceName.

    Defaults cover Siemens (t1_tse_tra, t2_tse_stir, tirm, fl2d, vibe), GE (Ax T1 FSE, Cor STIR,
    FSPGR, LAVA), Philips (T1W_TSE, T1W_SPIR, T2W, sT1W, SPAIR) and Canon (T1WI, T2WI, FatSat)
    naming, and German/English contrast abbreviations (KM, GD, +C, post).
    """

    model_config = ConfigDict(extra="forbid")
    t1: str = r"(?<![a-z0-9])s?t1(?!\d)|t1w|(?<![a-z])(fl[23]d|vibe|fspgr|spgr|mprage|tfe|lava)(?![a-z])"
    not_t1: str = (
        r"(?<![a-z0-9])t2|stir|tirm|(?<![a-z])(pdw?|adc)(?![a-z])|flair|dwi|diff|ep2d|trace"
        r"|(?<![a-z])(b\d{2,4}|de|swi)(?![a-z0-9])|perf|t2\*"
        r"|field[ _-]?map|fmap|b0[ _-]?map|(?<![a-z0-9])b0(?![a-z0-9])"
    )
    fat_sat: str = (
        r"(?<![a-z])fs(?![a-z])|fat[ _-]?sat|fatsat|spir|spair|(?<![a-z])sfs(?![a-z])|chess"
        r"|dixon[ _-]?w|(?<![a-z])fs_|_fs(?![a-z])"
    )
    contrast: str = (
        r"\+\s?c(?![a-z])|\+\s?gd|(?<![a-z])(km|gd|gad|ce|post|c\+)(?![a-z])|contrast|kontrast"
        r"|gado|dotarem|gadovist"
    )
    localizer: str = r"locali[sz]er|scout|survey|(?<![a-z])loc(?![a-z])|3[ _-]?plane|aahead|tri-?pilot"
    derived: str = r"(?<![a-z])(mpr|mip|sub|subtr\w*|reformat\w*|recon)(?![a-z])|_mpr(?![a-z])|(?<![a-z])mpr_"
    field_map_sequence: str = r"^\*?fm[23]d|^b0map"  # matched against SequenceName only
    dixon: str = r"dixon|ideal|(?<![a-z])flex(?![a-z])"
    dixon_in_phase: str = r"in[ _-]?phase|(?<![a-z])(in|ip)(?![a-z])"
    dixon_opposed_phase: str = r"opp(osed)?[ _-]?phase|out[ _-]?(of[ _-]?)?phase|(?<![a-z])(opp|op)(?![a-z])"
    dixon_water: str = r"water|(?<![a-z])w(?![a-z])"
    dixon_fat: str = r"(?<![a-z])(fat|f)(?![a-z])"

    @field_validator("*")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return v


class SiteAction(StrEnum):
    PREFER = "prefer"  # add ``points`` (negative to disfavour)
    EXCLUDE = "exclude"  # never choose a matching series
    PIN = "pin"  # choose a matching series whatever the physics say (Weights.site_pin points)


class SiteRule(BaseModel):
    """One site rule: every given pattern must match (case-insensitive regular expressions)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    action: SiteAction = SiteAction.PREFER
    points: float = Field(20.0, description="points added by a prefer rule")
    manufacturer: str | None = None
    station_name: str | None = None
    protocol: str | None = None
    description: str | None = None

    @field_validator("manufacturer", "station_name", "protocol", "description")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return v

    @model_validator(mode="after")
    def _has_pattern(self) -> SiteRule:
        if not any((self.manufacturer, self.station_name, self.protocol, self.description)):
            raise ValueError(f"site rule {self.name!r} matches nothing: give at least one pattern")
        return self

    def matches(self, *, manufacturer: str, station_name: str, protocol: str, description: str) -> bool:
        """Every given pattern matches its attribute (config stays below select: plain values)."""
        pairs = ((self.manufacturer, manufacturer), (self.station_name, station_name),
                 (self.protocol, protocol), (self.description, description))
        return all(re.search(pat, value or "", re.IGNORECASE) is not None
                   for pat, value in pairs if pat is not None)


class SelectionRules(BaseModel):
    """Everything :func:`node.select.rules.choose_series` needs (editable per site)."""

    model_config = ConfigDict(extra="forbid")
    t1_tr_ms: Range = Field(default_factory=lambda: Range(lo=2.0, hi=900.0))
    t1_te_ms: Range = Field(default_factory=lambda: Range(lo=0.5, hi=25.0))
    t2_te_ms: Range = Field(default_factory=lambda: Range(lo=60.0, hi=1000.0))
    pd_tr_min_ms: float = Field(1500.0, description="TR at/above this with T1-short TE is PD")
    stir_ti_ms: Range = Field(default_factory=lambda: Range(lo=80.0, hi=300.0))
    flair_ti_min_ms: float = Field(1500.0)
    ir_t1_ti_ms: Range = Field(default_factory=lambda: Range(lo=350.0, hi=1300.0),
                               description="TI of inversion-prepared T1 GRE (MP-RAGE 600-1200, IR-SPGR 400+)")
    ir_t1_te_max_ms: float = Field(10.0, description="inversion-prepared T1 GRE: TE at most this")
    ir_t1_flip_max: float = Field(25.0, description="flip angle at most this counts as gradient echo")
    min_slices: int = Field(10, ge=1, description="fewer slices get the few_slices penalty")
    time_series_repeats: float = Field(3.0, gt=1, description="images per slice position at/above "
                                       "this: a time series (time_series penalty)")
    exclude_below_slices: int = Field(3, ge=1, description="ineligible below this many slices")
    min_score: float = Field(20.0, description="best score below this → NoT1Series")
    uncertain_margin: float = Field(
        8.0, ge=0, description="top-2 score difference below this flags the choice uncertain"
    )
    fat_sat_scan_options: list[str] = Field(
        default_factory=lambda: ["FS", "SFS", "FAT_SAT", "FAT SAT", "FATSAT", "SPIR", "SPAIR",
                                 "CHESS", "SPECIAL"],
        description="ScanOptions (0018,0022) values meaning fat suppression (PS3.3 C.8.3.1). "
        "Not GE's FSA/FSP/FSS/FSI/FSL/FSR_GEMS: the suffix names a direction (anterior, "
        "posterior, superior, inferior, left, right: spatial saturation bands), and GE writes "
        "fat saturation as the DICOM defined term FS. Check your scanner's conformance statement",
    )
    site_rules: list[SiteRule] = Field(
        default_factory=list, description="the PACS admin's rules, applied after the physics")
    weights: Weights = Field(default_factory=Weights)
    patterns: Patterns = Field(default_factory=Patterns)


class SelectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quiet_s: float = Field(
        10.0, ge=0, description="a study is a candidate once no instance arrived for this long"
    )
    max_wait_s: float = Field(
        300.0, ge=0, description="a study whose data checks still fail is processed anyway "
        "(warning incomplete_series) once quiet for this long",
    )
    gap_factor: float = Field(
        1.5, gt=1, description="a slice gap above this × the median spacing counts as missing slices"
    )
    rules: SelectionRules = Field(default_factory=SelectionRules)
