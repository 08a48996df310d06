"""The safety rule (issue 14): P(ALT) leaves the node only for a mask that passed QC or that a
clinician accepted.

Checked by the report stage before it builds the SR that carries P(ALT), so no configuration
(a pipeline without a ``qc`` stage, a job resumed at ``report`` by hand, a QC result that never
got written) can deliver a probability computed from an unchecked mask. A refused job goes to
``needs_review`` (code ``needs_review`` is one of ``jobs.review_codes``).
"""

from __future__ import annotations

from typing import Any, Protocol

from node.errors import LipoNodeError


class JobResult(Protocol):
    """What the rule reads of ``node.jobs.model.JobResult`` (qc is a layer below jobs)."""

    job_id: str
    qc: Any  # .status: pass | fail | None
    seg_method: Any
    quality_score: Any


class MaskNotCleared(LipoNodeError):
    """The mask neither passed QC nor was accepted by a reviewer: no P(ALT) may be sent."""

    code = "needs_review"


#: reviewer scores (the paper's four levels) under which an *unchanged* automatic mask is accepted
ACCEPTING_SCORES = frozenset({"excellent", "sufficient"})


def reviewer_accepted(result: JobResult) -> bool:
    """A reviewer replaced the mask (interactive / manual) or kept the automatic one and scored
    it excellent or sufficient. Keeping an automatic mask scored insufficient or incorrect is
    not acceptance: that mask is exactly what must not reach the PACS."""
    if str(result.seg_method) != "automatic":  # str(): vocabulary enums hash by name, not value
        return True
    return result.quality_score is not None and str(result.quality_score) in ACCEPTING_SCORES


def assert_deliverable(result: JobResult) -> None:
    """Raise :class:`MaskNotCleared` unless QC passed or a reviewer accepted the mask."""
    if reviewer_accepted(result):
        return
    if result.qc.status is not None and str(result.qc.status) == "pass":
        return
    state = str(result.qc.status) if result.qc.status is not None else "not run"
    raise MaskNotCleared(
        f"job {result.job_id}: QC {state} and no reviewer accepted the mask; P(ALT) is not "
        "delivered until a clinician reviews it (worklist)")
