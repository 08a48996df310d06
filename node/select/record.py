"""The selection as ``result.json`` records it: the chosen series and every series' score with
its reasons (what a reviewer reads to see why this series was segmented).

:class:`~node.select.rules.SeriesChoice` builds it once (``choice.selection``); the job result
embeds it unchanged and ``lipo-node select --json`` prints it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesScoreOut(_Model):
    series_uid: str
    description: str
    n_images: int
    orientation: str
    eligible: bool
    score: float | None = Field(description="None for a series that is not eligible")
    reasons: list[str]
    tr_ms: float | None = None
    te_ms: float | None = None
    ti_ms: float | None = None


class Selection(_Model):
    series_uid: str
    description: str
    score: float
    margin: float
    uncertain: bool
    reasons: list[str]
    series: list[SeriesScoreOut] = Field(default_factory=list)
    method: str = Field("automatic", description="automatic (rules) | manual (a reviewer's pick) | "
                        "none (no T1 found: waits for a reviewer's pick)")
    picked_by: str | None = None
