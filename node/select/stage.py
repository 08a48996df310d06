"""Job-pipeline stage ``select``: choose the T1 series and record why (node.select.rules)."""

from __future__ import annotations

from node.errors import NoT1Series
from node.jobs.model import JobState
from node.jobs.pipeline import JobContext, register_stage
from node.select.completeness import series_problems
from node.select.record import Selection
from node.select.rules import choose_series, score_study


def select_stage(ctx: JobContext) -> None:
    """Choose the T1 series (node.select) and record the decision with every series' reasons.

    Raises NoT1Series (code no_t1_series; ``jobs.review_codes`` sends it to the worklist,
    where a reviewer picks the series) after recording every series' score, so the picker can
    show why none qualified. An uncertain choice is recorded (``selection.uncertain``) and left
    to QC (reason selection_uncertain), which also sends it to the worklist.
    """
    try:
        choice = choose_series(ctx.study, ctx.cfg.select.rules)
    except NoT1Series as exc:
        ctx.result.series_uid = None
        ctx.result.selection = Selection(
            series_uid="", description="", score=0.0, margin=0.0, uncertain=True, reasons=[str(exc)],
            series=[s.record() for s in score_study(ctx.study, ctx.cfg.select.rules)], method="none")
        raise
    ctx.result.series_uid = choice.series_uid
    ctx.result.selection = choice.selection
    if choice.uncertain and "selection_uncertain" not in ctx.result.warnings:
        ctx.result.warnings.append("selection_uncertain")
    chosen = ctx.study.series[choice.series_uid]
    if series_problems(chosen, ctx.cfg.select.gap_factor) and \
            "incomplete_series" not in ctx.result.warnings:
        ctx.result.warnings.append("incomplete_series")


register_stage("select", JobState.SELECTED, "node.select.stage:select_stage")
