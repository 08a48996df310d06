"""Boundary refinement (node.segment.refine) on fixed arrays: the missing rim of tumour fat is
taken back; growth stops at a dark capsule and at other tissue; nothing far away is added.
Nothing is trained or predicted here."""

from __future__ import annotations

import numpy as np

from node.segment.cleanup import postprocess
from node.segment.config import SegmentConfig
from node.segment.nnunet import dice
from node.segment.refine import RefineParams, refine_mask

SHAPE = (6, 48, 48)
FAT, MUSCLE, CAPSULE = 1000.0, 300.0, 150.0


def _radius() -> np.ndarray:
    _z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    return np.hypot(y - 24, x - 24)


def _scene(outside: float, capsule: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Image, truth (tumour r ≤ 10), the model's mask (r ≤ 9: one voxel of rim missing) and a
    probability that fades across the rim."""
    r = _radius()
    rng = np.random.default_rng(0)
    image = np.full(SHAPE, outside, np.float32)
    truth = r <= 10
    image[truth] = FAT
    if capsule:
        image[(r > 10) & (r <= 11.5)] = CAPSULE
    image += rng.normal(0, 15, SHAPE).astype(np.float32)
    image[:, :3, :] = image[:, -3:, :] = image[:, :, :3] = image[:, :, -3:] = 0  # air at the FOV edge
    prob = np.clip(0.2 - 0.05 * (r - 10), 0.0, 0.2).astype(np.float32)  # fades to 0 at r = 14
    prob[r <= 9] = 0.95
    prob[(r > 9) & (r <= 10)] = 0.25  # the rim the model is unsure about
    mask = (r <= 9).astype(np.uint8)
    return image, truth, mask, prob


def test_rim_of_tumour_fat_is_taken_back_and_growth_stops_at_the_capsule() -> None:
    image, truth, mask, prob = _scene(outside=FAT, capsule=True)  # normal fat beyond a capsule
    out = refine_mask(mask, prob, image, None, RefineParams(low_threshold=0.5, grow_voxels=3,
                                                              grow_min_prob=0.0))
    r = _radius()
    assert out[truth].mean() > 0.98  # the rim is back (but for a few noise outliers)
    assert not out[r > 10.5].any()  # neither the capsule nor the normal fat beyond it
    assert dice(out, truth) > dice(mask, truth) + 0.1


def test_growth_stops_at_muscle() -> None:
    image, truth, mask, prob = _scene(outside=MUSCLE, capsule=False)
    out = refine_mask(mask, prob, image, None, RefineParams(low_threshold=0.5, grow_voxels=3,
                                                              grow_min_prob=0.0))
    assert out[truth].mean() > 0.98 and not out[~truth].any()


def test_without_a_capsule_growth_into_fat_is_bounded_by_the_step_count() -> None:
    image, _truth, mask, prob = _scene(outside=FAT, capsule=False)
    out = refine_mask(mask, prob, image, None, RefineParams(low_threshold=0.5, grow_voxels=1,
                                                              grow_min_prob=0.0))
    r = _radius()
    assert out[r <= 9.5].mean() > 0.95 and not out[r > 10.5].any()  # one in-plane step, not more


def test_hysteresis_adds_only_low_probability_voxels_touching_the_mask() -> None:
    image, truth, mask, prob = _scene(outside=MUSCLE, capsule=False)
    prob = prob.copy()
    prob[:, 4:8, 4:8] = 0.4  # a separate uncertain island in the corner
    out = refine_mask(mask, prob, image, None, RefineParams(low_threshold=0.2, grow_voxels=0))
    assert out[truth].all()
    assert not out[:, 4:8, 4:8].any()


def test_growth_needs_some_model_probability() -> None:
    image, _truth, mask, _prob = _scene(outside=MUSCLE, capsule=False)
    out = refine_mask(mask, np.where(mask > 0, 0.95, 0.0).astype(np.float32), image, None,
                      RefineParams(low_threshold=0.5, grow_voxels=2, grow_min_prob=0.05))
    assert (out == mask).all()


def test_empty_mask_stays_empty_and_refinement_is_off_by_default() -> None:
    image, _truth, mask, prob = _scene(outside=FAT, capsule=True)
    assert not refine_mask(np.zeros_like(mask), prob, image).any()
    plain = postprocess(prob, image, (4.0, 2.0, 2.0), SegmentConfig(drop_fat_pieces=False))
    assert (plain == (prob > 0.5)).all()
    refined = postprocess(prob, image, (4.0, 2.0, 2.0),
                          SegmentConfig(drop_fat_pieces=False, refine_boundary=True,
                                        refine_low_threshold=0.2, refine_grow_voxels=1))
    assert refined.sum() > plain.sum()
