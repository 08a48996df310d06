"""Second opinion for QC: the interactive model re-segments from the mask's extreme points.

If the automatic mask is right, its six extreme points are where a reviewer would click, and
the interactive model (node.segment.interactive) returns nearly the same mask. If the
automatic mask leaked into fat or stopped short, the points span a box the tumour does not
fill, and the two masks disagree. This uses a different network with a different input, so it
does not share the automatic model's blind spots (issue 14).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def reseg_from_extremes(image: np.ndarray, mask: np.ndarray, spacing_zyx: Sequence[float],
                        model_dir: Path | None = None) -> np.ndarray | None:
    """The interactive model's mask from ``mask``'s six extreme points (None for an empty mask
    or when no interactive model is installed: the check is then skipped, not passed)."""
    from node.segment.interactive import (
        InteractivePointsError,
        load_model,
        segment_from_points,
        simulate_points,
    )

    if not mask.any() or load_model(model_dir) is None:
        return None
    points = simulate_points(mask.astype(bool), inward=0)
    try:
        result = segment_from_points(image.astype(np.float32), spacing_zyx, points,
                                     model_dir=model_dir)
    except InteractivePointsError:  # a flat box (one-slice mask): nothing to compare
        return None
    return result.mask.astype(bool)
