"""Extreme-point interactive segmentation: crop box, guidance channel, post-processing, the
classical fallback and the bundled model (Dice on synthetic superficial tumours)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813

from node.segment.geometry import read_series
from node.segment.interactive import (
    DEFAULT_MODEL_DIR,
    InteractiveMethod,
    InteractivePointsError,
    check_points,
    crop_box,
    dice,
    heat_map,
    postprocess,
    segment_from_points,
    simulate_points,
)
from node.synthetic.study import StudySpec, generate_study


def _ellipsoid(shape=(20, 60, 60), centre=(10, 30, 30), radii=(5, 15, 12)) -> np.ndarray:
    g = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return (sum(((gi - c) / r) ** 2 for gi, c, r in zip(g, centre, radii, strict=True)) <= 1).astype(np.uint8)


def test_crop_box_adds_ten_percent_margin_with_minimums_and_clips_at_the_border() -> None:
    pts = np.array([[5, 20, 20], [15, 20, 20], [10, 0, 30], [10, 100, 30], [10, 50, 10], [10, 50, 50]])
    box = crop_box(pts, (30, 200, 200), (5.0, 0.8, 0.8))
    # z is thick (5 mm vs 0.8): >= 3 voxels; y: 10 % of 101 = 11; x: 10 % of 41 -> min 8
    assert box.lo == (2, 0, 2) and box.hi == (19, 112, 59)
    iso = crop_box(pts, (30, 200, 200), (1.0, 1.0, 1.0))
    assert iso.lo[0] == 0 and iso.hi[0] == 24  # z no longer thick: min 8, clipped at 0


def test_points_must_be_six_inside_the_image_and_span_a_box() -> None:
    shape = (20, 60, 60)
    with pytest.raises(InteractivePointsError, match="6 extreme points"):
        check_points([[1, 1, 1]] * 5, shape)
    with pytest.raises(InteractivePointsError, match="outside"):
        check_points([[1, 1, 1]] * 5 + [[20, 1, 1]], shape)
    with pytest.raises(InteractivePointsError, match="fewer than two axes"):
        check_points([[3, 3, i] for i in range(6)], shape)
    pts = [[1.4, 2.6, 3], [2, 3, 4], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]]
    assert check_points(pts, shape)[0].tolist() == [1, 3, 3]


def test_heat_map_peaks_at_each_point_and_decays_in_millimetres() -> None:
    pts = np.array([[2, 5, 5], [8, 20, 20]] + [[2, 5, 5]] * 4)
    h = heat_map((10, 30, 30), pts, (4.0, 1.0, 1.0), sigma_mm=3.0)
    assert h[2, 5, 5] == pytest.approx(1.0) and h[8, 20, 20] == pytest.approx(1.0)
    assert h[2, 5, 8] == pytest.approx(np.exp(-9 / 18), rel=1e-5)  # 3 mm in-plane
    assert h[3, 5, 5] == pytest.approx(np.exp(-16 / 18), rel=1e-5)  # 4 mm through-plane


def test_postprocess_keeps_the_largest_component_and_fills_holes() -> None:
    m = _ellipsoid()
    m[10, 30, 30] = 0  # a hole
    m[0:2, 0:2, 0:2] = 1  # a speck elsewhere
    out = postprocess(m)
    assert out[10, 30, 30] == 1 and out[0, 0, 0] == 0 and out.sum() == _ellipsoid().sum()


def test_classical_fallback_recovers_a_bright_ellipsoid_from_its_extreme_points() -> None:
    truth = _ellipsoid()
    rng = np.random.default_rng(0)
    image = (200 + 30 * rng.standard_normal(truth.shape) + 600 * truth.astype(np.float32)).astype(np.float32)
    pts = simulate_points(truth, rng, inward=1)
    r = segment_from_points(image, (4.0, 1.0, 1.0), pts, use_model=False)
    assert r.method is InteractiveMethod.CLASSICAL
    assert dice(r.mask, truth) > 0.85
    assert r.mask.shape == truth.shape and r.mask.dtype == np.uint8


def _superficial_cases(tmp: Path, n: int) -> list[tuple[np.ndarray, np.ndarray, tuple[float, ...]]]:
    out = []
    for i in range(n):
        study = generate_study(tmp / f"s{i}", StudySpec(case="superficial", max_matrix=160), seed=500 + i)
        vol = read_series([pydicom.dcmread(str(p)) for p in sorted(study.t1_series_dir.iterdir())])
        truth = sitk.GetArrayFromImage(sitk.ReadImage(str(study.mask_path)))
        out.append((vol.array, truth, vol.geometry.spacing[::-1]))
    return out


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "model.pt").is_file(), reason="no bundled interactive model")
def test_bundled_model_is_used_when_installed_and_has_a_model_card() -> None:
    truth = _ellipsoid()
    image = (200 + 600 * truth.astype(np.float32)).astype(np.float32)
    r = segment_from_points(image, (4.0, 1.0, 1.0), simulate_points(truth))
    assert r.method is InteractiveMethod.MODEL and r.mask.any()
    card = (DEFAULT_MODEL_DIR / "MODEL_CARD.md").read_text()
    assert "Dice" in card and json.loads((DEFAULT_MODEL_DIR / "meta.json").read_text())["model_id"] in card
    assert (DEFAULT_MODEL_DIR / "model.pt").stat().st_size < 20 * 2**20


@pytest.mark.slow
@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "model.pt").is_file(), reason="no bundled interactive model")
def test_bundled_model_beats_the_classical_fallback_on_superficial_tumours(tmp_path: Path) -> None:
    model, classical = [], []
    for i, (image, truth, spacing) in enumerate(_superficial_cases(tmp_path, 6)):
        pts = simulate_points(truth, np.random.default_rng(i), inward=2)
        model.append(dice(segment_from_points(image, spacing, pts).mask, truth))
        classical.append(dice(segment_from_points(image, spacing, pts, use_model=False).mask, truth))
    print(f"superficial Dice: model {np.mean(model):.3f} vs classical {np.mean(classical):.3f}")
    assert np.mean(model) > np.mean(classical)


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "model.pt").is_file(), reason="no bundled interactive model")
def test_six_points_beat_the_automatic_model_on_the_same_superficial_tumours(tmp_path: Path) -> None:
    """The paper's point: where automatic segmentation fails (superficial tumours inside
    subcutaneous fat), six extreme points get a better mask than the auto model on that image."""
    from node.segment.config import SegmentConfig
    from node.segment.nnunet import load_segmenter

    auto_model = load_segmenter(SegmentConfig(device="cpu"))
    interactive, auto = [], []
    for i, (image, truth, spacing) in enumerate(_superficial_cases(tmp_path, 3)):
        pts = simulate_points(truth, np.random.default_rng(i), inward=2)
        interactive.append(dice(segment_from_points(image, spacing, pts).mask, truth))
        fg = auto_model.foreground(np.ascontiguousarray(image, dtype=np.float32), list(spacing))
        auto.append(dice((fg > 0.5).astype(np.uint8), truth))
    print(f"superficial Dice: interactive {np.mean(interactive):.3f} vs automatic {np.mean(auto):.3f}")
    assert np.mean(interactive) > np.mean(auto)


def test_a_model_folder_keeps_its_own_patch_and_still_predicts_at_the_crop_size(tmp_path: Path) -> None:
    """A model trained at the first (8, 40, 40) patch loads beside the code's new default and
    answers at the size of the crop it was given; a patch the pooling cannot halve is refused."""
    import torch

    from node.segment.interactive_net import PATCH, InteractiveNet, UNet3D, save

    torch.manual_seed(0)
    save(UNet3D(width=4), tmp_path / "old", {"model_id": "old@test", "width": 4}, patch=(8, 40, 40))
    old = InteractiveNet.load(tmp_path / "old")
    assert old.patch == (8, 40, 40) and old.patch != PATCH
    mask = _ellipsoid()
    pts = simulate_points(mask, np.random.default_rng(0), inward=0)
    crop = mask.astype(np.float32) * 100 + 10
    assert old.predict(crop, pts, (4.0, 1.0, 1.0)).shape == crop.shape
    save(UNet3D(width=4), tmp_path / "bad", {"model_id": "bad@test", "width": 4}, patch=(10, 40, 40))
    with pytest.raises(ValueError, match="not divisible"):
        InteractiveNet.load(tmp_path / "bad")


def test_test_time_mirroring_covers_every_axis_so_a_mirrored_input_gives_the_mirrored_answer() -> None:
    """The training flips z, y and x; averaging over all eight combinations makes the answer for a
    mirrored crop the mirror of the answer, for any weights. An x-only mirror (the earlier TTA)
    fails this for z and y with random weights."""
    import itertools

    import torch

    from node.segment.interactive_net import MIRROR_AXES, UNet3D, _flip, mirrored_logits

    torch.manual_seed(3)
    net = UNet3D(width=4).eval()
    x = torch.randn(1, 3, 8, 16, 16)
    with torch.inference_mode():
        ref = mirrored_logits(net, x)
        for dims in [d for r in (1, 2, 3) for d in itertools.combinations((2, 3, 4), r)]:
            got = mirrored_logits(net, _flip(x, dims))
            assert torch.allclose(got, _flip(ref, dims), atol=1e-5), dims
        # the property is not free: one pass of the network alone is not mirror-equivariant
        plain = net(_flip(x, (2,)))
        assert not torch.allclose(plain, _flip(net(x), (2,)), atol=1e-3)
    assert len(set(MIRROR_AXES)) == 8


def test_intensity_augmentation_changes_contrast_but_not_shape_or_finiteness() -> None:
    from node.segment.interactive_train import augment_intensity

    crop = (_ellipsoid().astype(np.float32) * 300 + 50
            + np.random.default_rng(1).normal(0, 5, (20, 60, 60)).astype(np.float32))
    a = augment_intensity(crop, np.random.default_rng(2))
    b = augment_intensity(crop, np.random.default_rng(2))
    assert a.shape == crop.shape and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b)  # the draw, not the call, decides
    inside, outside = a[_ellipsoid() > 0].mean(), a[_ellipsoid() == 0].mean()
    assert inside > outside  # the tumour stays brighter than its surroundings
    flat = np.full((4, 8, 8), 7.0, dtype=np.float32)
    assert np.array_equal(augment_intensity(flat, np.random.default_rng(0)), flat)


def test_trimmed_training_cases_give_the_same_crops_as_the_whole_image() -> None:
    """Trimming a case to its tumour plus more than any crop margin must not change the crop the
    points select (else training would see other inputs than inference)."""
    from node.segment.interactive_train import _trim

    shape = (30, 160, 150)
    mask = _ellipsoid(shape, centre=(14, 70, 90), radii=(6, 30, 20))
    image = np.random.default_rng(3).normal(100, 20, shape).astype(np.float32) + mask * 200
    timg, tmask = _trim(image, mask)
    assert tmask.sum() == mask.sum() and timg.size < image.size
    for seed in range(5):
        pts = simulate_points(mask, np.random.default_rng(seed), inward=3)
        box = crop_box(pts, shape, (4.0, 0.8, 0.8))
        shift = np.argwhere(mask).min(axis=0) - np.argwhere(tmask).min(axis=0)
        tbox = crop_box(pts - shift, timg.shape, (4.0, 0.8, 0.8))
        assert np.array_equal(image[box.slices], timg[tbox.slices])
