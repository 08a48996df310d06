"""Issue 14: QC rules on fixed masks over a limb phantom, with the shipped thresholds.

The model's confidence and agreement are set high on purpose (0.99 / 0.99): on studies it was not
made from the model was confidently wrong, so the image-based checks must catch these masks on
their own. Nothing is trained here.
"""

from __future__ import annotations

import numpy as np
import pytest
from qc_phantom import SHAPE, SPACING_ZYX, phantom

from node.qc.anatomy import measure
from node.qc.checks import QcCode, QcResult, QcStatus, run_qc
from node.qc.config import QcConfig
from node.segment.geometry import Geometry, Mask

GRID = Geometry((0.0, 0.0, 0.0), (SPACING_ZYX[2], SPACING_ZYX[1], SPACING_ZYX[0]),
                (1, 0, 0, 0, 1, 0, 0, 0, 1), SHAPE)
IMAGE_CODES = {QcCode.FAT_CONTINUITY, QcCode.SKIN_SPREAD, QcCode.SHEET_LIKE, QcCode.LOW_SOLIDITY,
               QcCode.NOT_FATTY, QcCode.INTERACTIVE_DISAGREES}
P = phantom()


def _mask(array: np.ndarray) -> Mask:
    a = array.astype(np.uint8)
    probs = np.where(a > 0, 0.99, 0.01).astype(np.float32)
    return Mask(array=a, geometry=GRID, model_id="fixed", probabilities=probs, agreement=0.99)


def _qc(array: np.ndarray, cfg: QcConfig | None = None, interactive: bool = True) -> QcResult:
    from node.qc.interactive_check import reseg_from_extremes

    cfg = cfg or QcConfig()
    inter = reseg_from_extremes(P.image, array, SPACING_ZYX) if interactive else None
    return run_qc(_mask(array), None, False, cfg, image=P.image, interactive=inter)


def _codes(r: QcResult) -> set[QcCode]:
    return {x.code for x in r.reasons}


def _subcutaneous_arc() -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    angle = np.degrees(np.arctan2(y - 64, x - 64))
    r = np.hypot(y - 64, x - 64)
    fascia_gap = (r >= 40) & (r < 43) & (np.abs(angle - 90) < 15)  # where the leak got through
    return (P.subcut_fat | fascia_gap) & (np.abs(angle - 90) < 70) & (np.abs(z - 8) < 5)


def test_the_correct_mask_passes_every_check() -> None:
    r = _qc(P.tumour)
    assert r.status is QcStatus.PASS, r.reasons
    assert {"fat_continuity", "skin_contact", "thin_fraction", "solidity", "fat_share",
            "interactive_dice"} <= set(r.measurements)


def test_mask_over_segmented_into_subcutaneous_fat_is_sent_to_review() -> None:
    r = _qc(P.tumour | _subcutaneous_arc())
    assert r.status is QcStatus.FAIL
    assert QcCode.SKIN_SPREAD in _codes(r), r.reasons
    assert QcCode.MULTIPLE_COMPONENTS not in _codes(r)  # one connected mask: the leak itself is caught


def test_subcutaneous_leak_is_caught_without_the_interactive_model() -> None:
    r = _qc(P.tumour | _subcutaneous_arc(), interactive=False)
    assert r.status is QcStatus.FAIL and _codes(r) & IMAGE_CODES


def test_mask_stopping_inside_the_tumour_is_sent_to_review() -> None:
    _z, y, _x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    r = _qc(P.tumour & (y < 93))
    assert r.status is QcStatus.FAIL
    assert QcCode.FAT_CONTINUITY in _codes(r), r.reasons


def test_mask_cut_by_the_field_of_view_is_sent_to_review() -> None:
    cut = np.roll(P.tumour, 40, axis=1)  # pushed against the grid's last row
    cut[:, :, :] &= np.arange(SHAPE[1])[None, :, None] < SHAPE[1]
    assert cut[:, -1, :].any()
    r = _qc(cut, interactive=False)
    assert r.status is QcStatus.FAIL and QcCode.TOUCHES_FOV_BORDER in _codes(r)


def test_empty_mask_is_sent_to_review() -> None:
    r = _qc(np.zeros(SHAPE, bool))
    assert r.status is QcStatus.FAIL and _codes(r) == {QcCode.EMPTY_MASK}


def test_two_tumours_are_sent_to_review() -> None:
    r = _qc(P.tumour | P.second, interactive=False)
    assert r.status is QcStatus.FAIL and QcCode.MULTIPLE_COMPONENTS in _codes(r)


def test_a_mask_of_muscle_is_not_fatty() -> None:
    z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    muscle = (np.hypot(y - 64, x - 30) < 8) & (np.abs(z - 8) < 3)
    r = _qc(muscle, interactive=False)
    assert QcCode.NOT_FATTY in _codes(r)


def test_the_checks_can_be_switched_off() -> None:
    cfg = QcConfig(anatomy_checks=False, interactive_check=False)
    r = _qc(P.tumour | _subcutaneous_arc(), cfg)
    assert not _codes(r) & IMAGE_CODES


def test_measure_rejects_a_mask_on_another_grid() -> None:
    with pytest.raises(ValueError, match="shape"):
        measure(P.image, P.tumour[:, :-1], SPACING_ZYX)


def test_edge_offset_follows_the_mask_off_the_tumour_edge() -> None:
    """A rim of muscle added in-plane moves the strongest edge inside the mask (more negative
    offset, by about the rim's width); a mask shrunk in-plane moves it outside."""
    from scipy import ndimage

    disc = ndimage.generate_binary_structure(2, 2)[None]   # 3x3 in-plane square: 1 voxel = 1 mm
    grown = ndimage.binary_dilation(P.tumour, disc, iterations=3)
    shrunk = ndimage.binary_erosion(P.tumour, disc, iterations=2)
    right, big, small = (measure(P.image, m, SPACING_ZYX).edge_offset_mm for m in (P.tumour, grown, shrunk))
    assert big <= right - 2.0, (right, big)
    assert small >= right + 1.0, (right, small)
    assert -3.0 <= right <= 0.0          # the capsule's inner edge, just inside the drawn edge


def test_small_mask_with_a_rim_of_muscle_is_sent_to_review_by_edge_inside() -> None:
    """The failure QC let through on hold-outs 23-26: a small tumour over-segmented by a rim of
    the tissue around it, with the model fully confident (0.99 here)."""
    from scipy import ndimage

    rim = ndimage.binary_dilation(P.tumour, ndimage.generate_binary_structure(2, 2)[None], iterations=3)
    r = _qc(rim, interactive=False)
    assert QcCode.EDGE_INSIDE in _codes(r), r.measurements
    assert r.status is QcStatus.FAIL
    # the rule is for small masks (≤ edge_offset_max_volume_ml), and it can be switched off
    assert QcCode.EDGE_INSIDE not in _codes(_qc(rim, QcConfig(edge_offset_max_volume_ml=5.0), False))
    assert QcCode.EDGE_INSIDE not in _codes(_qc(rim, QcConfig(min_edge_offset_mm=None), False))
    # the right mask of the same tumour is not flagged
    assert QcCode.EDGE_INSIDE not in _codes(_qc(P.tumour, interactive=False))
