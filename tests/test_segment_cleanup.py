"""Anatomical clean-up of automatic masks (issue 14): subcutaneous strips go, tumours stay."""

from __future__ import annotations

import numpy as np
from qc_phantom import SHAPE, SPACING_ZYX, phantom

from node.segment.cleanup import drop_fat_pieces

P = phantom()


def _strip() -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    angle = np.degrees(np.arctan2(y - 64, x - 64))
    return P.subcut_fat & (np.abs(angle + 90) < 50) & (np.abs(z - 8) < 6)  # opposite the tumour


def test_a_subcutaneous_strip_beside_the_tumour_is_dropped() -> None:
    out = drop_fat_pieces(P.tumour | _strip(), P.image, SPACING_ZYX)
    assert np.array_equal(out.astype(bool), P.tumour)


def test_a_second_tumour_is_kept() -> None:
    both = P.tumour | P.second
    assert np.array_equal(drop_fat_pieces(both, P.image, SPACING_ZYX).astype(bool), both)


def test_a_mask_is_never_emptied() -> None:
    strip = _strip()
    assert np.array_equal(drop_fat_pieces(strip, P.image, SPACING_ZYX).astype(bool), strip)
