"""Study completeness: quiet timer AND data checks, with a bounded wait.

DICOM has no "end of study" message over C-STORE (PS3.4 B), so a node must infer it. We wait
until no instance arrived for ``quiet_s`` and then check each imaging series:

- InstanceNumber (0020,0013) continuity: numbers min..max without holes;
- ImagePositionPatient (0020,0032) continuity along the slice normal (cross product of the
  ImageOrientationPatient (0020,0037) row/column cosines, PS3.3 C.7.6.2.1.1): a gap larger
  than ``gap_factor`` × the median spacing means missing slices;
- expected count: ImagesInAcquisition (0020,1002) for classic images, NumberOfFrames for
  Enhanced MR (the frames' positions come from the per-frame functional groups).

A study failing a data check keeps waiting, but never forever: once quiet for ``max_wait_s``
it proceeds with the warning code ``incomplete_series`` (nothing accepted is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

from node.select.config import SelectConfig
from node.select.index import SeriesHeader, StudyIndex


class Readiness(StrEnum):
    WAITING = "waiting"  # still receiving, or data checks fail and max_wait_s not reached
    READY = "ready"  # quiet and every data check passed
    READY_INCOMPLETE = "ready_incomplete"  # quiet for max_wait_s; proceeds with a warning


INCOMPLETE_WARNING = "incomplete_series"


@dataclass(frozen=True)
class SeriesGaps:
    series_uid: str
    description: str
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Completeness:
    readiness: Readiness
    quiet_s: float
    gaps: list[SeriesGaps] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [INCOMPLETE_WARNING] if self.readiness is Readiness.READY_INCOMPLETE else []

    @property
    def ready(self) -> bool:
        return self.readiness is not Readiness.WAITING


def series_problems(s: SeriesHeader, gap_factor: float) -> list[str]:
    """Human-readable data-check failures of one series (empty = looks complete)."""
    problems: list[str] = []
    if s.expected_count is not None and s.n_images < s.expected_count:
        problems.append(f"{s.n_images} of {s.expected_count} expected images")
    numbers = sorted({sl.instance_number for sl in s.slices if sl.instance_number is not None})
    if len(numbers) >= 2 and s.enhanced is None:
        holes = (numbers[-1] - numbers[0] + 1) - len(numbers)
        if holes > 0:
            problems.append(f"{holes} InstanceNumber(s) missing between {numbers[0]} and {numbers[-1]}")
    missing = _position_gaps(s, gap_factor)
    if missing:
        problems.append(f"{missing} slice position(s) missing along the slice normal")
    return problems


def _position_gaps(s: SeriesHeader, gap_factor: float) -> int:
    iop = s.dominant_orientation
    if iop is None or len(iop) != 6:
        return 0
    normal = np.cross(np.array(iop[:3]), np.array(iop[3:]))
    pts = [sl.position for sl in s.slices
           if sl.position is not None and sl.orientation is not None
           and np.allclose(sl.orientation, iop, atol=1e-3)]
    if len(pts) < 3:
        return 0
    # unique positions: multi-volume series (echoes, b-values, dynamics) repeat each location
    dist = np.unique(np.round(np.array(pts) @ normal, 2))
    if len(dist) < 3:
        return 0
    steps = np.diff(dist)
    median = float(np.median(steps))
    if median <= 0:
        return 0
    big = steps[steps > gap_factor * median]
    return int(sum(round(g / median) - 1 for g in big))


def assess(study: StudyIndex, last_received: datetime | None, now: datetime,
           cfg: SelectConfig) -> Completeness:
    """Is ``study`` ready for processing at ``now``? (see module docstring)."""
    quiet = (now - last_received).total_seconds() if last_received is not None else float("inf")
    if quiet < cfg.quiet_s:
        return Completeness(Readiness.WAITING, quiet)
    gaps = []
    for s in study.series.values():
        if "LOCALIZER" in s.image_type or s.modality not in ("MR", ""):
            continue
        problems = series_problems(s, cfg.gap_factor)
        if problems:
            gaps.append(SeriesGaps(s.series_uid, s.description, tuple(problems)))
    if not gaps:
        return Completeness(Readiness.READY, quiet)
    if quiet >= cfg.max_wait_s:
        return Completeness(Readiness.READY_INCOMPLETE, quiet, gaps)
    return Completeness(Readiness.WAITING, quiet, gaps)
