"""What a series is, from standard attributes: magnitude or phase, inversion-prepared, echo
planar, field map, fat-suppressed, post-contrast (PS3.3 C.8.3.1 MR Image Module, C.8.13
Enhanced MR, C.7.6.4 Contrast/Bolus). :mod:`node.select.rules` turns these into scored terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from node.select.config import SelectionRules
from node.select.index import SeriesHeader, StudyIndex

# ImageType value 3+ (PS3.3 C.8.3.1.1.1, C.8.13.3.1.1) and ComplexImageComponent (0008,9208):
# what the pixels are. Vendors: Siemens M/P, Philips M_FFE/M_SE/PHASE MAP/P/R/I, Enhanced MR
# MAGNITUDE/PHASE/REAL/IMAGINARY/MIXED.
NOT_MAGNITUDE = {"P", "PHASE", "PHASE MAP", "R", "REAL", "I", "IMAGINARY", "MIXED", "B0 MAP"}
DERIVED_KINDS = {"MPR", "MIP", "MINIP", "MNIP", "PROJECTION IMAGE", "SUBTRACTION", "SUB", "REFORMATTED",
                  "CPR", "CSAMIP", "CSAMPR", "CSA MPR", "CSA MIP", "ADC", "FA", "TRACEW", "TENSOR_B0"}
# ImageType value 3+ of functional / perfusion series (Siemens XA FMRI/ASL/PERFUSION, Philips
# PERFUSION, GE EPI): what the images are for, whatever their TR/TE look like
FUNCTIONAL_KINDS = {"FMRI", "ASL", "PERFUSION", "PERFUSION_FFE", "PERFUSION_SE", "EPI", "DIFFUSION"}
# Dixon outputs (Siemens DIXON + IN_PHASE/OPP_PHASE/WATER/FAT, Philips mDIXON IP/OP/W/F)
DIXON_IN = {"IN_PHASE", "INPHASE", "IP"}
DIXON_OPP = {"OPP_PHASE", "OUT_PHASE", "OPPOSED_PHASE", "OUTPHASE", "OP"}
DIXON_WATER = {"WATER", "W"}
DIXON_FAT = {"FAT", "F"}
_NO_CONTRAST = {"", "NONE", "NO", "N", "-", "0"}


def has_pattern(pattern: str, text: str) -> bool:
    return bool(text) and re.search(pattern, text, re.IGNORECASE) is not None

_Key = tuple[str, float | None]


@dataclass(frozen=True)
class StudyContext:
    """What one series' score may need from its siblings, per (protocol, TR): the echo times of
    phase-only series and of magnitude series. A field map whose echoes and phase went to
    separate series (Siemens gre_field_mapping, XA MFSPLIT) is then recognised from the set,
    while a single-echo GRE saved with its own phase (same TE) is not a field map."""

    phase_tes: dict[_Key, frozenset[float]] = field(default_factory=dict)
    magnitude_tes: dict[_Key, frozenset[float]] = field(default_factory=dict)

    @classmethod
    def of(cls, study: StudyIndex) -> StudyContext:
        phase: dict[_Key, set[float]] = {}
        mag: dict[_Key, set[float]] = {}
        for s in study.series.values():
            target = phase if complex_only(s) else mag
            target.setdefault(_protocol_key(s), set()).update(_tes(s))
        return cls({k: frozenset(v) for k, v in phase.items()}, {k: frozenset(v) for k, v in mag.items()})

    def field_map_sibling(self, s: SeriesHeader) -> bool:
        key = _protocol_key(s)
        if key not in self.phase_tes:
            return False
        return bool(_tes(s) - self.phase_tes[key]) or len(self.magnitude_tes.get(key, ())) >= 2


def _tes(s: SeriesHeader) -> set[float]:
    return set(s.echo_times) or ({round(s.te_ms, 2)} if s.te_ms is not None else set())


def _protocol_key(s: SeriesHeader) -> tuple[str, float | None]:
    return ((s.protocol or s.description).strip().lower(), None if s.tr_ms is None else round(s.tr_ms))


def image_kinds(s: SeriesHeader) -> set[str]:
    return set(s.image_kinds) | set(s.image_type[2:])


def _magnitude(kinds: set[str]) -> bool:
    return bool({"M", "MAGNITUDE"} & kinds) or any(k.startswith("M_") for k in kinds)


def complex_only(s: SeriesHeader) -> bool:
    kinds = image_kinds(s)
    return bool(kinds & NOT_MAGNITUDE) and not _magnitude(kinds)


def inversion_prepared(s: SeriesHeader) -> bool:
    """IR in ScanningSequence/ScanOptions (GE: IR_GEMS), Enhanced InversionRecovery YES, or any
    InversionTime > 0: Siemens MP-RAGE (tfl3d) writes ScanningSequence GR with a TI only."""
    return ("IR" in s.scanning_sequence or "IR" in s.scan_options or "IR_GEMS" in s.scan_options
            or (s.enhanced is not None and bool(s.enhanced.inversion_recovery))
            or (s.ti_ms is not None and s.ti_ms > 0))


def echo_planar(s: SeriesHeader) -> str | None:
    if "EP" in s.scanning_sequence:
        return "ScanningSequence EP"
    if "DIFFUSION" in s.image_type:
        return "ImageType DIFFUSION"
    if s.enhanced is not None and s.enhanced.echo_planar:
        return "EchoPlanarPulseSequence YES"
    if s.enhanced is not None and s.enhanced.acquisition_contrast == "DIFFUSION":
        return "AcquisitionContrast DIFFUSION"
    return None


def field_map(s: SeriesHeader, rules: SelectionRules, ctx: StudyContext) -> str | None:
    """Why this magnitude series is (part of) a B0 field map or multi-echo source data, or None.

    Physics first: magnitude mixed with phase/real/imaginary images in one series (Philips
    classic and Enhanced B0 maps), several echo times in one gradient-echo series (dual-echo
    field maps, T2* source echoes), a phase-only sibling series from the same protocol and TR
    (Siemens), then the vendor's sequence code in SequenceName (0018,0024) / PulseSequenceName.
    """
    kinds = image_kinds(s)
    if kinds & NOT_MAGNITUDE and _magnitude(kinds):
        return f"magnitude mixed with {'/'.join(sorted(kinds & NOT_MAGNITUDE))} images"
    gre = "GR" in s.scanning_sequence or (s.enhanced is not None
                                         and s.enhanced.echo_pulse_sequence == "GRADIENT")
    if len(s.echo_times) >= 2 and gre and not inversion_prepared(s) and max(s.echo_times) < 20:
        tes = "/".join(f"{t:g}" for t in sorted(s.echo_times))
        return f"{len(s.echo_times)} echo times ({tes} ms) in one gradient-echo series"
    if ctx.field_map_sibling(s):
        return "phase series of the same protocol and TR at another echo time"
    if s.sequence_name and has_pattern(rules.patterns.field_map_sequence, s.sequence_name):
        return f"sequence '{s.sequence_name}' is a field-map sequence"
    return None

def repeats_per_position(s: SeriesHeader) -> float:
    """Images per distinct slice position along the normal (PS3.3 C.7.6.2.1.1): ~1 for one
    anatomical volume, 2 for two echoes, many for a time series (fMRI, perfusion, ASL, dynamic)."""
    iop = s.dominant_orientation
    pts = [sl.position for sl in s.slices if sl.position is not None]
    if iop is None or len(iop) != 6 or len(pts) < 3:
        return 1.0
    normal = np.cross(np.array(iop[:3]), np.array(iop[3:]))
    distinct = len(np.unique(np.round(np.array(pts) @ normal, 1)))
    return len(pts) / max(distinct, 1)


def fat_suppressed(s: SeriesHeader, rules: SelectionRules) -> str | None:
    """Why we think fat is suppressed (physics), or None."""
    wanted = {o.upper() for o in rules.fat_sat_scan_options}
    hits = [o for o in s.scan_options if o in wanted]
    if hits:
        return f"ScanOptions {'/'.join(hits)}"
    if s.enhanced and s.enhanced.spectral_suppression.startswith("FAT"):
        return f"SpectrallySelectedSuppression {s.enhanced.spectral_suppression}"
    return None


def contrast_given(s: SeriesHeader) -> str | None:
    if s.contrast_agent.upper() not in _NO_CONTRAST:
        return f"ContrastBolusAgent '{s.contrast_agent}'"
    if s.enhanced and s.enhanced.contrast_administered:
        return "ContrastBolusAgentAdministered YES"
    return None

