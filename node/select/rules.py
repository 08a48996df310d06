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
from node.select.config import SelectionRules, SiteAction
from node.select.index import NON_IMAGE_CLASSES, SeriesHeader, StudyIndex
from node.select.physics import (
    DERIVED_KINDS,
    DIXON_FAT,
    DIXON_IN,
    DIXON_OPP,
    DIXON_WATER,
    FUNCTIONAL_KINDS,
    NOT_MAGNITUDE,
    StudyContext,
    complex_only,
    contrast_given,
    echo_planar,
    fat_suppressed,
    field_map,
    has_pattern,
    image_kinds,
    inversion_prepared,
    repeats_per_position,
)
from node.select.record import Selection, SeriesScoreOut

_T1_EVIDENCE = {"t1_physics", "acquisition_contrast_t1"}
_NOT_PLAIN = {"t2_physics", "pd_physics", "stir", "flair", "echo_planar", "acquisition_contrast_other",
              "fat_sat", "contrast", "derived", "few_slices", "field_map", "research_mode",
              "dixon_opposed", "dixon_fat", "time_series"}


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
    tr_ms: float | None = None
    te_ms: float | None = None
    ti_ms: float | None = None

    @property
    def reasons(self) -> list[str]:
        return [f"{t.points:+g} {t.reason}" if t.points else t.reason for t in self.terms]

    @property
    def plain_t1(self) -> bool:
        """Physics say T1 and nothing says fat-suppressed, post-contrast, derived or other contrast."""
        fired = {t.rule for t in self.terms}
        return bool(fired & _T1_EVIDENCE) and not fired & _NOT_PLAIN

    def record(self) -> SeriesScoreOut:
        """This score as result.json records it (the worklist's series picker shows it)."""
        return SeriesScoreOut(series_uid=self.series_uid, description=self.description,
                              n_images=self.n_images, orientation=self.orientation, eligible=self.eligible,
                              score=self.score if self.eligible else None, reasons=self.reasons,
                              tr_ms=self.tr_ms, te_ms=self.te_ms, ti_ms=self.ti_ms)


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
            series=[s.record() for s in self.scores],
        )


def _dixon_terms(s: SeriesHeader, rules: SelectionRules) -> list[Term]:
    """Dixon outputs: in-phase is the conventional T1-weighted GRE image (chosen), opposed-phase
    cancels signal in voxels holding fat and water (India-ink borders), water is fat-suppressed,
    fat-only is a computed map. See README "Dixon"."""
    w, kinds = rules.weights, image_kinds(s)
    dixon = "DIXON" in kinds or has_pattern(rules.patterns.dixon, s.names)
    if not dixon and not kinds & (DIXON_IN | DIXON_OPP | {"WATER", "FAT"}):
        return []
    if kinds & DIXON_IN or has_pattern(rules.patterns.dixon_in_phase, s.names):
        return [Term(w.dixon_in_phase, "Dixon in-phase image: conventional T1-weighted GRE contrast",
                     "dixon_in_phase")]
    if kinds & DIXON_OPP or has_pattern(rules.patterns.dixon_opposed_phase, s.names):
        return [Term(w.dixon_opposed, "Dixon opposed-phase image: fat-water cancellation at borders",
                     "dixon_opposed")]
    if kinds & DIXON_WATER or has_pattern(rules.patterns.dixon_water, s.names):
        return [Term(w.fat_sat, "fat suppressed (Dixon water image)", "fat_sat")]
    if kinds & DIXON_FAT or has_pattern(rules.patterns.dixon_fat, s.names):
        return [Term(w.dixon_fat, "Dixon fat-only image (computed)", "dixon_fat")]
    return []


def _exclusion(s: SeriesHeader, rules: SelectionRules) -> str | None:
    if s.modality != "MR":
        return f"excluded: modality {s.modality or 'missing'} is not MR"
    if s.sop_class_uid in NON_IMAGE_CLASSES:
        return "excluded: not an image SOP class"
    if "LOCALIZER" in s.image_type:
        return "excluded: ImageType LOCALIZER"
    if complex_only(s):
        return f"excluded: {'/'.join(sorted(image_kinds(s) & NOT_MAGNITUDE))} images, not magnitude"
    if has_pattern(rules.patterns.localizer, s.names):
        return f"excluded: name '{s.description or s.protocol}' is a localizer"
    # orientations compared at 0.01: GE writes float noise (1e-9) that differs slice to slice
    planes = {tuple(round(v, 2) for v in sl.orientation) for sl in s.slices if sl.orientation}
    if len(planes) > 2 and s.n_images <= 12:
        return "excluded: slices in 3+ orientations (localizer)"
    if s.n_images < rules.exclude_below_slices:
        return f"excluded: {s.n_images} image(s) < {rules.exclude_below_slices}"
    return None


def _physics_terms(s: SeriesHeader, rules: SelectionRules, ctx: StudyContext) -> list[Term]:
    w = rules.weights
    out: list[Term] = []
    tr, te, ti, flip = s.tr_ms, s.te_ms, s.ti_ms, s.flip_angle
    inversion = inversion_prepared(s)
    epi = echo_planar(s)
    if epi:
        out.append(Term(w.echo_planar, f"echo-planar/diffusion acquisition ({epi})", "echo_planar"))
    fmap = None if epi else field_map(s, rules, ctx)
    if fmap:
        out.append(Term(w.field_map, f"field map / multi-echo source data: {fmap}", "field_map"))
    functional = image_kinds(s) & FUNCTIONAL_KINDS
    if functional and not epi:
        out.append(Term(w.acquisition_contrast_other, f"ImageType {'/'.join(sorted(functional))}: "
                        "functional/perfusion images, not anatomy", "acquisition_contrast_other"))
    reps = repeats_per_position(s)
    if not epi and reps >= rules.time_series_repeats:
        out.append(Term(w.time_series, f"{reps:.0f} images per slice position: a time series "
                        "(fMRI/perfusion/ASL/dynamic), not one anatomical volume", "time_series"))
    gre_like = ("GR" in s.scanning_sequence
                or (s.enhanced is not None and s.enhanced.echo_pulse_sequence == "GRADIENT")
                or (flip is not None and flip <= rules.ir_t1_flip_max))
    ir_t1 = (inversion and not epi and ti is not None and ti in rules.ir_t1_ti_ms and te is not None
             and te <= rules.ir_t1_te_max_ms and gre_like)
    if ir_t1:
        # MP-RAGE / IR-SPGR / BRAVO / 3D TFE: vendors write either the echo spacing or the whole
        # inversion cycle as TR (1800-2300 ms), so TR is not used here
        flip_txt = f", flip {flip:g}" if flip is not None else ""
        out.append(Term(w.t1_physics, f"inversion-prepared gradient echo TI {ti:g} ms / TE {te:g} ms"
                        f"{flip_txt}: T1-weighted (MP-RAGE/IR-SPGR)", "t1_physics"))
    elif inversion and ti is not None and ti in rules.stir_ti_ms:
        out.append(Term(w.stir, f"inversion recovery TI {ti:g} ms: STIR (fat nulled)", "stir"))
    elif inversion and ti is not None and ti >= rules.flair_ti_min_ms:
        out.append(Term(w.flair, f"inversion recovery TI {ti:g} ms: FLAIR", "flair"))
    if ir_t1:
        pass
    elif te is not None and te in rules.t2_te_ms:
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
    if "RM" in s.scanning_sequence and not inversion:
        out.append(Term(w.research_mode, "ScanningSequence RM (research mode): contrast not declared",
                        "research_mode"))
    if s.enhanced and s.enhanced.acquisition_contrast:
        ac = s.enhanced.acquisition_contrast
        if ac == "T1":
            out.append(Term(w.acquisition_contrast_t1, "AcquisitionContrast T1",
                            "acquisition_contrast_t1"))
        elif ac not in ("UNKNOWN", "MIXED"):
            out.append(Term(w.acquisition_contrast_other, f"AcquisitionContrast {ac}",
                            "acquisition_contrast_other"))
    dixon = _dixon_terms(s, rules)
    out += dixon
    fs = fat_suppressed(s, rules)
    if fs and not any(t.rule == "fat_sat" for t in dixon):
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
    if has_pattern(p.not_t1, names):
        out.append(Term(w.name_not_t1, f"name '{label}' suggests a non-T1 contrast", "name_not_t1"))
    elif has_pattern(p.t1, names):
        out.append(Term(w.name_t1, f"name '{label}' suggests T1", "name_t1"))
    if has_pattern(p.fat_sat, names):
        out.append(Term(w.name_fat_sat, f"name '{label}' suggests fat suppression", "name_fat_sat"))
    if has_pattern(p.contrast, names):
        out.append(Term(w.name_contrast, f"name '{label}' suggests contrast", "name_contrast"))
    return out


def _site_terms(s: SeriesHeader, rules: SelectionRules) -> tuple[str | None, list[Term]]:
    """The site's own rules (config ``select.rules.site_rules``): (exclusion reason, terms)."""
    terms: list[Term] = []
    for rule in rules.site_rules:
        if not rule.matches(manufacturer=s.manufacturer, station_name=s.station_name, protocol=s.protocol,
                            description=s.description):
            continue
        if rule.action is SiteAction.EXCLUDE:
            return f"excluded by site rule '{rule.name}'", []
        if rule.action is SiteAction.PIN:
            terms.append(Term(rules.weights.site_pin, f"pinned by site rule '{rule.name}'", "site_pin"))
        else:
            terms.append(Term(rule.points, f"site rule '{rule.name}'", "site_prefer"))
    return None, terms


def _derived_reason(s: SeriesHeader, rules: SelectionRules) -> str | None:
    if s.image_type[:1] == ("DERIVED",) or s.image_type[1:2] == ("SECONDARY",):
        return f"derived/secondary image (ImageType {'/'.join(s.image_type[:2])})"
    kinds = image_kinds(s) & DERIVED_KINDS
    if kinds:
        return f"derived image (ImageType {'/'.join(sorted(kinds))})"
    match = re.search(rules.patterns.derived, s.names, re.IGNORECASE) if s.names else None
    if match:
        return f"name '{s.description or s.protocol}' suggests a reformat/subtraction ('{match.group(0)}')"
    return None


def score_series(s: SeriesHeader, rules: SelectionRules, ctx: StudyContext | None = None) -> SeriesScore:
    ctx = ctx if ctx is not None else StudyContext()
    excluded = _exclusion(s, rules)
    site_excluded, site_terms = _site_terms(s, rules)
    excluded = excluded or site_excluded
    orient = s.orientation_label
    if excluded:
        return SeriesScore(s.series_uid, s.description, s.n_images, orient, False, float("-inf"),
                           (Term(0, excluded),), s.tr_ms, s.te_ms, s.ti_ms)
    terms = _physics_terms(s, rules, ctx) + _name_terms(s, rules)
    w = rules.weights
    derived = _derived_reason(s, rules)
    if derived:
        terms.append(Term(w.derived, derived, "derived"))
    if s.n_images < rules.min_slices:
        terms.append(Term(w.few_slices, f"{s.n_images} slices < {rules.min_slices}", "few_slices"))
    if w.orientation.get(orient):
        terms.append(Term(w.orientation[orient], f"{orient} slices"))
    terms += site_terms
    score = sum(t.points for t in terms)
    return SeriesScore(s.series_uid, s.description, s.n_images, orient, True, score, tuple(terms),
                       s.tr_ms, s.te_ms, s.ti_ms)


def score_study(study: StudyIndex, rules: SelectionRules) -> list[SeriesScore]:
    """Every series' score, best first (ties: more images, then UID, so the order is stable)."""
    ctx = StudyContext.of(study)
    return sorted((score_series(s, rules, ctx) for s in study.series.values()),
                  key=lambda x: (x.score, x.n_images, x.series_uid), reverse=True)


def choose_series(study: StudyIndex, rules: SelectionRules) -> SeriesChoice:
    """Pick the pre-contrast, non-fat-suppressed T1-weighted series, or raise NoT1Series.

    ``uncertain`` is set when the runner-up scores within ``rules.uncertain_margin`` of the
    winner; QC reads it (reason selection_uncertain) and may send the case to review.
    """
    scores = score_study(study, rules)
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
