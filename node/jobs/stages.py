"""Built-in stage functions of the job pipeline (``(ctx: JobContext) -> None``)."""

from __future__ import annotations

from node.jobs.model import Selection, SeriesScoreOut
from node.jobs.pipeline import JobContext
from node.select.completeness import series_problems
from node.select.rules import choose_series


def select_stage(ctx: JobContext) -> None:
    """Choose the T1 series (node.select) and record the decision with every series' reasons.

    Raises NoT1Series (job → failed, code no_t1_series). An uncertain choice is recorded
    (``selection.uncertain``) and left to QC (reason selection_uncertain).
    """
    choice = choose_series(ctx.study, ctx.cfg.select.rules)
    ctx.result.series_uid = choice.series_uid
    ctx.result.selection = Selection(
        series_uid=choice.series_uid, description=choice.description, score=choice.score,
        margin=choice.margin, uncertain=choice.uncertain, reasons=choice.reasons,
        series=[
            SeriesScoreOut(series_uid=s.series_uid, description=s.description, n_images=s.n_images,
                           orientation=s.orientation, eligible=s.eligible,
                           score=s.score if s.eligible else None, reasons=s.reasons)
            for s in choice.scores
        ],
    )
    if choice.uncertain and "selection_uncertain" not in ctx.result.warnings:
        ctx.result.warnings.append("selection_uncertain")
    chosen = ctx.study.series[choice.series_uid]
    if series_problems(chosen, ctx.cfg.select.gap_factor) and \
            "incomplete_series" not in ctx.result.warnings:
        ctx.result.warnings.append("incomplete_series")
