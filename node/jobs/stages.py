"""Built-in stage functions of the job pipeline (``(ctx: JobContext) -> None``)."""

from __future__ import annotations

from node.errors import NoT1Series
from node.jobs.model import Selection, SeriesScoreOut
from node.jobs.pipeline import JobContext
from node.select.completeness import series_problems
from node.select.index import StudyIndex
from node.select.rules import SeriesScore, StudyContext, choose_series, score_series


def series_out(study: StudyIndex, scores: list[SeriesScore]) -> list[SeriesScoreOut]:
    """Every series' score, reasons and timing, as the worklist's series picker shows them."""
    out = []
    for s in scores:
        hdr = study.series.get(s.series_uid)
        out.append(SeriesScoreOut(
            series_uid=s.series_uid, description=s.description, n_images=s.n_images,
            orientation=s.orientation, eligible=s.eligible, score=s.score if s.eligible else None,
            reasons=s.reasons, tr_ms=hdr.tr_ms if hdr else None, te_ms=hdr.te_ms if hdr else None,
            ti_ms=hdr.ti_ms if hdr else None))
    return out


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
        sctx = StudyContext.of(ctx.study)
        scores = sorted((score_series(s, ctx.cfg.select.rules, sctx) for s in ctx.study.series.values()),
                        key=lambda x: (x.score, x.n_images), reverse=True)
        ctx.result.series_uid = None
        ctx.result.selection = Selection(
            series_uid="", description="", score=0.0, margin=0.0, uncertain=True,
            reasons=[str(exc)], series=series_out(ctx.study, scores), method="none")
        raise
    ctx.result.series_uid = choice.series_uid
    ctx.result.selection = Selection(
        series_uid=choice.series_uid, description=choice.description, score=choice.score,
        margin=choice.margin, uncertain=choice.uncertain, reasons=choice.reasons,
        series=series_out(ctx.study, choice.scores),
    )
    if choice.uncertain and "selection_uncertain" not in ctx.result.warnings:
        ctx.result.warnings.append("selection_uncertain")
    chosen = ctx.study.series[choice.series_uid]
    if series_problems(chosen, ctx.cfg.select.gap_factor) and \
            "incomplete_series" not in ctx.result.warnings:
        ctx.result.warnings.append("incomplete_series")
