"""lipo-node select stage: study completeness and T1 series selection with reasons.

Public API::

    study = StudyIndex.from_folder(path)            # or .from_records(store.study_instances(uid))
    choice = choose_series(study, cfg.select.rules)  # SeriesChoice, or raises NoT1Series
    state = assess(study, store.last_received(uid), now, cfg.select)  # Completeness
"""

from node.select.completeness import Completeness, Readiness, SeriesGaps, assess
from node.select.config import SelectConfig, SelectionRules
from node.select.index import SeriesHeader, SliceInfo, StudyIndex
from node.select.rules import SeriesChoice, SeriesScore, Term, choose_series, score_series

__all__ = [
    "Completeness",
    "Readiness",
    "SelectConfig",
    "SelectionRules",
    "SeriesChoice",
    "SeriesGaps",
    "SeriesHeader",
    "SeriesScore",
    "SliceInfo",
    "StudyIndex",
    "Term",
    "assess",
    "choose_series",
    "score_series",
]
