"""T1 series selection: a scored, explainable rule set over every series of a study.

Each rule that fires adds its weight (``SelectionRules.weights``) and a human-readable reason.
Hard exclusions (not MR, localizer, no images) make a series ineligible whatever its score.
Physics comes from the MR Image Module (PS3.3 C.8.3.1: ScanningSequence, SequenceVariant,
ScanOptions, RepetitionTime, EchoTime, InversionTime), the Contrast/Bolus Module (C.7.6.4) and,
for Enhanced MR, the functional groups (C.8.13.5; see :mod:`node.select.enhanced`). Names only
nudge: physics weights are larger, so a mislabelled series is judged by what it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from node.errors import NoT1Series
from node.select.config import SelectionRules
from node.select.index import SeriesHeader, StudyIndex
from node.select.record import Selection, SeriesScoreOut

_NON_IMAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4.2",  # MR Spectroscopy
    "1.2.840.10008.5.1.4.1.1.66",  # Raw Data
}
_NO_CONTRAST = {"", "NONE", "NO", "N", "-", "0"}
_T1_EVIDENCE = {"t1_physics", "acquisition_contrast_t1"}
_NOT_PLAIN = {"t2_physics", "pd_physics", "stir", "flair", "echo_planar", "acquisition_contrast_other",
              "fat_sat", "contrast", "derived", "few_slices"}


@dataclass(frozen=True)
class Term:
    """One fired rule: its points and why."""

    points: float
    reason: str
    rule: str = ""  # the Weights field that fired ("" for notes worth 0)


@dataclass(frozen=True)
class SeriesScore:
    series_uid: str
    description: str
    n_images: int
    orientation: str
    eligible: bool
    score: float
    terms: tuple[Term, ...]

    @property
    def reasons(self) -> list[str]:
        return [f"{t.points:+g} {t.reason}" if t.points else t.reason for t in self.terms]

    @property
    def plain_t1(self) -> bool:
        """Physics say T1 and nothing says fat-suppressed, post-contrast, derived or other contrast."""
        fired = {t.rule for t in self.terms}
        return bool(fired & _T1_EVIDENCE) and not fired & _NOT_PLAIN


@dataclass(frozen=True)
class SeriesChoice:
    """The decision: chosen series, every series' score, and how sure we are."""

    study_uid: str
    series_uid: str
    description: str
    score: float
    margin: float
    uncertain: bool
    reasons: list[str]
    scores: list[SeriesScore] = field(default_factory=list)

    @property
    def selection(self) -> Selection:
        """The decision as result.json and ``select --json`` record it."""
        return Selection(
            series_uid=self.series_uid, description=self.description, score=self.score,
            margin=self.margin, uncertain=self.uncertain, reasons=self.reasons,
            series=[SeriesScoreOut(series_uid=s.series_uid, description=s.description,
                                   n_images=s.n_images, orientation=s.orientation, eligible=s.eligible,
                                   score=s.score if s.eligible else None, reasons=s.reasons)
                    for s in self.scores],
        )


def _has(pattern: str, text: str) -> bool:
    return bool(text) and re.search(pattern, text, re.IGNORECASE) is not None


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


def _exclusion(s: SeriesHeader, rules: SelectionRules) -> str | None:
    if s.modality != "MR":
        return f"excluded: modality {s.modality or 'missing'} is not MR"
    if s.sop_class_uid in _NON_IMAGE_CLASSES:
        return "excluded: not an image SOP class"
    if "LOCALIZER" in s.image_type:
        return "excluded: ImageType LOCALIZER"
    if _has(rules.patterns.localizer, s.names):
        return f"excluded: name '{s.description or s.protocol}' is a localizer"
    if len({sl.orientation for sl in s.slices if sl.orientation}) > 2 and s.n_images <= 12:
        return "excluded: slices in 3+ orientations (localizer)"
    if s.n_images < rules.exclude_below_slices:
        return f"excluded: {s.n_images} image(s) < {rules.exclude_below_slices}"
    return None


def _physics_terms(s: SeriesHeader, rules: SelectionRules) -> list[Term]:
    w = rules.weights
    out: list[Term] = []
    tr, te, ti = s.tr_ms, s.te_ms, s.ti_ms
    inversion = "IR" in s.scanning_sequence or "IR" in s.scan_options or (
        s.enhanced is not None and bool(s.enhanced.inversion_recovery)
    )
    epi = "EP" in s.scanning_sequence or "DIFFUSION" in s.image_type or (
        s.enhanced is not None and s.enhanced.acquisition_contrast == "DIFFUSION"
    )
    if epi:
        out.append(Term(w.echo_planar, "echo-planar/diffusion acquisition", "echo_planar"))
    if inversion and ti is not None and ti in rules.stir_ti_ms:
        out.append(Term(w.stir, f"inversion recovery TI {ti:g} ms: STIR (fat nulled)", "stir"))
    elif inversion and ti is not None and ti >= rules.flair_ti_min_ms:
        out.append(Term(w.flair, f"inversion recovery TI {ti:g} ms: FLAIR", "flair"))
    if te is not None and te in rules.t2_te_ms:
        out.append(Term(w.t2_physics, f"TE {te:g} ms is T2-weighted", "t2_physics"))
    elif tr is not None and te is not None:
        if tr in rules.t1_tr_ms and te in rules.t1_te_ms:
            out.append(Term(w.t1_physics, f"TR {tr:g} ms / TE {te:g} ms is T1-weighted",
                            "t1_physics"))
        elif tr >= rules.pd_tr_min_ms and te in rules.t1_te_ms and not inversion:
            out.append(Term(w.pd_physics, f"TR {tr:g} ms / TE {te:g} ms is proton-density",
                            "pd_physics"))
        else:
            out.append(Term(0, f"TR {tr:g} ms / TE {te:g} ms: no weighting rule fired"))
    else:
        out.append(Term(0, "TR/TE missing: weighting judged by name only"))
    if s.enhanced and s.enhanced.acquisition_contrast:
        ac = s.enhanced.acquisition_contrast
        if ac == "T1":
            out.append(Term(w.acquisition_contrast_t1, "AcquisitionContrast T1",
                            "acquisition_contrast_t1"))
        elif ac not in ("UNKNOWN", "MIXED"):
            out.append(Term(w.acquisition_contrast_other, f"AcquisitionContrast {ac}",
                            "acquisition_contrast_other"))
    fs = fat_suppressed(s, rules)
    if fs:
        out.append(Term(w.fat_sat, f"fat suppressed ({fs})", "fat_sat"))
    cb = contrast_given(s)
    if cb:
        out.append(Term(w.contrast, f"post-contrast ({cb})", "contrast"))
    spin_echo = ("SE" in s.scanning_sequence and not inversion) or (
        s.enhanced is not None and s.enhanced.echo_pulse_sequence == "SPIN"
    )
    if spin_echo and not epi:
        out.append(Term(w.spin_echo, "spin echo", "spin_echo"))
    return out


def _name_terms(s: SeriesHeader, rules: SelectionRules) -> list[Term]:
    w, p, names = rules.weights, rules.patterns, s.names
    if not names.strip():
        return [Term(0, "no SeriesDescription/ProtocolName")]
    out: list[Term] = []
    label = s.description or s.protocol or s.sequence_name
    if _has(p.not_t1, names):
        out.append(Term(w.name_not_t1, f"name '{label}' suggests a non-T1 contrast", "name_not_t1"))
    elif _has(p.t1, names):
        out.append(Term(w.name_t1, f"name '{label}' suggests T1", "name_t1"))
    if _has(p.fat_sat, names):
        out.append(Term(w.name_fat_sat, f"name '{label}' suggests fat suppression", "name_fat_sat"))
    if _has(p.contrast, names):
        out.append(Term(w.name_contrast, f"name '{label}' suggests contrast", "name_contrast"))
    return out


def score_series(s: SeriesHeader, rules: SelectionRules) -> SeriesScore:
    excluded = _exclusion(s, rules)
    orient = s.orientation_label
    if excluded:
        return SeriesScore(s.series_uid, s.description, s.n_images, orient, False, float("-inf"),
                           (Term(0, excluded),))
    terms = _physics_terms(s, rules) + _name_terms(s, rules)
    w = rules.weights
    derived = s.image_type[:1] == ("DERIVED",) or s.image_type[1:2] == ("SECONDARY",)
    if derived or _has(rules.patterns.derived, s.names):
        terms.append(Term(w.derived, f"derived/reformatted (ImageType {'/'.join(s.image_type[:2])})",
                          "derived"))
    if s.n_images < rules.min_slices:
        terms.append(Term(w.few_slices, f"{s.n_images} slices < {rules.min_slices}", "few_slices"))
    if w.orientation.get(orient):
        terms.append(Term(w.orientation[orient], f"{orient} slices"))
    score = sum(t.points for t in terms)
    return SeriesScore(s.series_uid, s.description, s.n_images, orient, True, score, tuple(terms))


def choose_series(study: StudyIndex, rules: SelectionRules) -> SeriesChoice:
    """Pick the pre-contrast, non-fat-suppressed T1-weighted series, or raise NoT1Series.

    ``uncertain`` is set when the runner-up scores within ``rules.uncertain_margin`` of the
    winner; QC reads it (reason selection_uncertain) and may send the case to review.
    """
    scores = sorted(
        (score_series(s, rules) for s in study.series.values()),
        key=lambda x: (x.score, x.n_images, x.series_uid), reverse=True,
    )
    eligible = [s for s in scores if s.eligible]
    if not eligible or eligible[0].score < rules.min_score:
        best = f"best {eligible[0].description!r} scored {eligible[0].score:g}" if eligible else \
            "none eligible"
        raise NoT1Series(
            f"study {study.study_uid}: {len(scores)} series, none T1-weighted "
            f"(min score {rules.min_score:g}; {best})"
        )
    top = eligible[0]
    second = eligible[1] if len(eligible) > 1 and eligible[1].score >= rules.min_score else None
    margin = top.score - second.score if second is not None else top.score - rules.min_score
    close = second is not None and margin < rules.uncertain_margin
    # two plain T1 series (say axial and coronal) are both fine to segment: close, not uncertain
    interchangeable = close and top.plain_t1 and second is not None and second.plain_t1
    uncertain = close and not interchangeable
    note = f"margin {margin:g} over the runner-up"
    if uncertain:
        note += " (uncertain)"
    elif interchangeable:
        note += " (runner-up is also a plain T1 series: either serves)"
    reasons = [*top.reasons, note]
    return SeriesChoice(study.study_uid, top.series_uid, top.description, top.score, margin,
                        uncertain, reasons, scores)
