"""Boundary refinement of an automatic mask: take back the rim the model leaves out.

The bundled model's masks stop slightly inside the tumour (about one voxel of rim missing,
docs/evaluation/segmentation_generalisation.md §5). On a small tumour that rim is a large share
of the volume, and the ``fat_continuity`` QC rule sees fat continuing across the edge of a mask
that is otherwise right. Two steps, both local and both bounded:

1. **Hysteresis**: voxels whose foreground probability is at least ``low_threshold`` join the
   mask when they touch it (26-connected). The model's own uncertainty band around a mask is
   where the missing rim lies; a low-probability island elsewhere is not added.
2. **Intensity-guided growth**: up to ``grow_voxels`` in-plane steps into neighbouring voxels
   whose intensity lies inside the mask's own tumour-fat range (between the ``low_quantile`` and
   ``high_quantile`` of the fat-bright voxels already in the mask, minus/plus ``tolerance`` of
   that range) and whose probability is at least ``grow_min_prob``. A capsule or septum is dark
   on T1 and muscle is darker still, so growth stops there; bright normal fat on the far side of
   a capsule is never reached. Where no capsule separates tumour from normal fat, growth can add
   at most ``grow_voxels`` voxels of fat, and only where the model gave some probability.

Both steps only ever add voxels adjacent to the existing mask, so an empty mask stays empty and
a mask is never moved. Thresholds were tuned on the QC development set (/work/qcdev: label-map
bodies and randomised twin cases, training generators only), never on a hold-out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: 4-connected in-plane neighbourhood (no through-plane step: slices are 3-6 mm apart)
_CROSS = ndimage.generate_binary_structure(2, 1)[np.newaxis]


@dataclass(frozen=True)
class RefineParams:
    low_threshold: float = 0.3
    grow_voxels: int = 1
    grow_min_prob: float = 0.02
    low_quantile: float = 0.02
    high_quantile: float = 0.99
    tolerance: float = 0.25


def _box(fg: np.ndarray, pad: int) -> tuple[slice, ...]:
    idx = np.argwhere(fg)
    lo, hi = idx.min(0), idx.max(0) + 1
    return tuple(slice(max(0, int(a) - pad), min(n, int(b) + pad))
                 for a, b, n in zip(lo, hi, fg.shape, strict=True))


def refine_mask(mask: np.ndarray, prob: np.ndarray | None, image: np.ndarray,
                spacing_zyx: Sequence[float] | None = None,
                params: RefineParams = RefineParams()) -> np.ndarray:
    """``mask`` with its missing rim taken back (uint8, same shape; only adjacent voxels added).

    ``prob``: the model's foreground probability on the same grid (None: growth only, with no
    probability floor). ``spacing_zyx`` is accepted for symmetry with the other clean-ups; the
    steps count voxels, in-plane, because the rim the model misses is one in-plane voxel.
    """
    del spacing_zyx
    fg = mask.astype(bool)
    if not fg.any():
        return fg.astype(np.uint8)
    sl = _box(fg, params.grow_voxels + 3)
    m = fg[sl]
    img = image[sl].astype(np.float32)
    p = None if prob is None else prob[sl].astype(np.float32)
    if p is not None and params.low_threshold < 0.5:
        labels, _ = ndimage.label(p >= params.low_threshold, structure=np.ones((3, 3, 3), bool))
        touching = np.unique(labels[m])
        m = m | np.isin(labels, touching[touching > 0])
    if params.grow_voxels > 0:
        m = _grow(m, img, p, params)
    out = fg.copy()
    out[sl] = m | fg[sl]
    return out.astype(np.uint8)


def _grow(m: np.ndarray, img: np.ndarray, p: np.ndarray | None, params: RefineParams) -> np.ndarray:
    """In-plane growth into voxels inside the mask's tumour-fat intensity range."""
    from node.qc.anatomy import _otsu

    inside = img[m]
    if inside.size < 10:
        return m
    fat_cut = _otsu(img[img > 0]) if np.any(img > 0) else 0.0
    fat_inside = inside[inside > fat_cut]
    if fat_inside.size < 10:  # not a fatty mask: nothing to match against
        return m
    lo, hi = np.quantile(fat_inside, [params.low_quantile, params.high_quantile])
    span = float(hi - lo)
    allowed = (img >= lo - params.tolerance * span) & (img <= hi + params.tolerance * span)
    if p is not None:
        allowed &= p >= params.grow_min_prob
    for _ in range(params.grow_voxels):
        ring = ndimage.binary_dilation(m, structure=_CROSS) & ~m & allowed
        if not ring.any():
            break
        m = m | ring
    return m
