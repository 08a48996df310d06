"""Job-pipeline stage ``select``: choose the T1 series and record why (node.select.rules)."""

from __future__ import annotations

from node.jobs.model import JobState
from node.jobs.pipeline import JobContext, register_stage
from node.select.completeness import series_problems
from node.select.rules import choose_series


def select_stage(ctx: JobContext) -> None:
    """Choose the T1 series (node.select) and record the decision with every series' reasons.

    Raises NoT1Series (job → failed, code no_t1_series). An uncertain choice is recorded
    (``selection.uncertain``) and left to QC (reason selection_uncertain).
    """
    choice = choose_series(ctx.study, ctx.cfg.select.rules)
    ctx.result.series_uid = choice.series_uid
    ctx.result.selection = choice.selection
    if choice.uncertain and "selection_uncertain" not in ctx.result.warnings:
        ctx.result.warnings.append("selection_uncertain")
    chosen = ctx.study.series[choice.series_uid]
    if series_problems(chosen, ctx.cfg.select.gap_factor) and \
            "incomplete_series" not in ctx.result.warnings:
        ctx.result.warnings.append("incomplete_series")


register_stage("select", JobState.SELECTED, "node.select.stage:select_stage")
