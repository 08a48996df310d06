"""The paper's segmentation quality score (Excellent / Sufficient / Insufficient / Incorrect) from Dice.

Spaanderman et al. 2024 had radiologists score each automatic segmentation on this four-point
scale. On a cohort with reference masks the score is assigned from the Dice coefficient with
these bands (lower bound inclusive):

- **Excellent >= 0.85** — at the paper's mean automatic Dice (0.86): a difference of this size
  lies within what two readers disagree on; a reader would accept it unedited.
- **Sufficient 0.70–0.85** — the conventional "good overlap" bound (Zijdenbos et al., IEEE TMI
  1994) and the level of the paper's interactive model (0.82): the tumour and most of its
  boundary are right; radiomics on such masks changes little (mostly shape/volume features).
- **Insufficient 0.30–0.70** — the tumour is found but a large part of it (or of its
  neighbourhood) is wrong: a reader would correct it (the worklist's extreme points or brush).
- **Incorrect < 0.30** — the mask misses the tumour or marks another structure.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum


class Quality(StrEnum):
    EXCELLENT = "Excellent"
    SUFFICIENT = "Sufficient"
    INSUFFICIENT = "Insufficient"
    INCORRECT = "Incorrect"


BANDS: tuple[tuple[float, Quality], ...] = (
    (0.85, Quality.EXCELLENT), (0.70, Quality.SUFFICIENT), (0.30, Quality.INSUFFICIENT),
    (0.0, Quality.INCORRECT))


def quality_of(dice: float) -> Quality:
    """The quality band of a Dice coefficient (NaN or negative -> Incorrect)."""
    for lower, q in BANDS:
        if dice >= lower:
            return q
    return Quality.INCORRECT


def quality_counts(dices: list[float]) -> dict[Quality, int]:
    c = Counter(quality_of(d) for d in dices)
    return {q: c.get(q, 0) for q in Quality}
