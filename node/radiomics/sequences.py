"""Which series of a received study fill the multi-sequence slots (T1-FS, T1-GD, T2/T2-FS/STIR).

The selection rules already read every series' physics (TR/TE/TI, inversion, ScanOptions fat
saturation, contrast agent) to find the plain T1; the rules that fired say what each other
series is. Slot rules, first match wins:

- contrast given (ContrastBolusAgent / Enhanced "contrast administered") -> ``t1gd``;
- STIR (inversion recovery at a fat-null TI) or T2 physics (long TE) -> ``t2``;
- T1 physics and fat suppressed -> ``t1fs``.

Derived/reformatted series, localizers and excluded series never fill a slot (a reformat holds
no new information and its interpolated texture would bias the features). Several candidates
for one slot: the one with most images (usually the full slab).
"""

from __future__ import annotations

from dataclasses import dataclass

from node.select.config import SelectionRules
from node.select.index import StudyIndex
from node.select.rules import score_series


@dataclass(frozen=True)
class SlotChoice:
    slot: str
    series_uid: str
    description: str
    reason: str


def slot_of(rules_fired: set[str]) -> tuple[str, str] | None:
    """(slot, reason) from the rule names that fired for a series, or None."""
    if "derived" in rules_fired:
        return None
    if "contrast" in rules_fired:
        return "t1gd", "post-contrast"
    if "stir" in rules_fired:
        return "t2", "STIR"
    if "t2_physics" in rules_fired:
        return "t2", "T2-weighted"
    if "fat_sat" in rules_fired and "t1_physics" in rules_fired:
        return "t1fs", "T1 fat-suppressed"
    return None


def choose_sequences(study: StudyIndex, t1_uid: str, rules: SelectionRules
                     ) -> dict[str, SlotChoice]:
    """Slot -> series for every slot the study can fill (the T1 itself excluded)."""
    best: dict[str, tuple[int, SlotChoice]] = {}
    for uid, header in study.series.items():
        if uid == t1_uid:
            continue
        score = score_series(header, rules)
        if not score.eligible:
            continue
        hit = slot_of({t.rule for t in score.terms if t.rule})
        if hit is None:
            continue
        slot, reason = hit
        n = header.n_images
        if slot not in best or n > best[slot][0]:
            best[slot] = (n, SlotChoice(slot, uid, header.description, reason))
    return {k: v[1] for k, v in best.items()}
