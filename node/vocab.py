"""The shared vocabulary: values that several stages, ``result.json``, the report and the
worklist must spell the same way. One definition each; the strings are what lands on disk
(``result.json``, the outbox and review tables), so a value never changes once released.
"""

from __future__ import annotations

from enum import StrEnum


class Label(StrEnum):
    """Histology, the classification target: MDM2-negative lipoma vs MDM2-amplified ALT."""

    LIPOMA = "lipoma"
    ALT = "alt"


class SegMethod(StrEnum):
    """How the final mask was made (paper: 78 % automatic, 22 % interactive, 3 % manual)."""

    AUTOMATIC = "automatic"
    INTERACTIVE = "interactive"
    MANUAL = "manual"


class QcStatus(StrEnum):
    """QC of the segmentation: the automatic checks give pass/fail; ``reviewed`` means a
    clinician's judgement replaced them (what the SR reports)."""

    PASS = "pass"
    FAIL = "fail"
    REVIEWED = "reviewed"


class QualityScore(StrEnum):
    """The paper's four-level score of a segmentation (Spaanderman et al. 2024, Methods)."""

    EXCELLENT = "excellent"
    SUFFICIENT = "sufficient"
    INSUFFICIENT = "insufficient"
    INCORRECT = "incorrect"

    @property
    def satisfactory(self) -> bool:
        return self in (QualityScore.EXCELLENT, QualityScore.SUFFICIENT)


class DeliveryState(StrEnum):
    """Where a job's SEG + SR are: an outbox item's state, or the job's overall delivery
    (``skipped`` when no destination is configured; never an outbox item's)."""

    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    DEAD = "dead"
    SKIPPED = "skipped"
