"""Random body label maps for segmentation training (node/synthetic/labelmaps.py, issue 14)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.synthetic.enums import TUMOUR_TISSUES, Tissue
from node.synthetic.labelmaps import REGIONS, draw_labelmap, labelmap_case, labelmap_cohort
from node.synthetic.randomise import randomise

REPO = Path(__file__).resolve().parents[1]
TUMOUR = [int(t) for t in TUMOUR_TISSUES]


def _neighbours(labels: np.ndarray) -> np.ndarray:
    """Labels of the in-plane 4-neighbours of tumour sub-voxels that are not tumour themselves."""
    lab = np.pad(labels.reshape(-1, *labels.shape[2:]), ((0, 0), (1, 1), (1, 1)), constant_values=255)
    is_t = np.isin(lab, TUMOUR)
    out = []
    for axis in (1, 2):
        for shift in (1, -1):
            nb = np.roll(lab, shift, axis)   # the padding wraps, never the other side of the FOV
            sel = is_t & ~np.isin(nb, [*TUMOUR, 255])
            out.append(nb[sel])
    return np.concatenate(out)


def test_same_seed_same_case_and_another_seed_another() -> None:
    a = draw_labelmap(7, max_matrix=96)
    b = draw_labelmap(7, max_matrix=96)
    c = draw_labelmap(8, max_matrix=96)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.mask, b.mask)
    assert a.meta == b.meta and a.spacing == b.spacing
    assert a.labels.shape != c.labels.shape or not np.array_equal(a.labels, c.labels)


@pytest.mark.parametrize("region", REGIONS)
def test_every_region_has_the_layers_of_a_body_and_a_tumour(region: str) -> None:
    lm = draw_labelmap(11, region=region, max_matrix=128, plane="axial")
    present = set(np.unique(lm.labels).tolist())
    for t in (Tissue.air, Tissue.skin, Tissue.subcut_fat, Tissue.fascia, Tissue.muscle, Tissue.im_fat,
              Tissue.cortex, Tissue.marrow, Tissue.tumour_fat):
        assert int(t) in present, (region, t.name)
    s, p, r, c = lm.labels.shape
    assert lm.labels.dtype == np.uint8 and 3 <= p <= 4 and 20 <= s <= 48 and max(r, c) <= 128
    assert lm.mask.shape == (s, r, c) and lm.mask.any()
    dz, dy, dx = lm.spacing
    assert 3 <= dz <= 7 and 0.6 <= dy == dx <= 1.2
    assert lm.meta["region"] == region
    assert lm.meta["volume_ml"] == pytest.approx(lm.mask.sum() * dz * dy * dx / 1000, abs=0.01)


def test_muscle_is_split_into_compartments_by_fascia_and_fat_planes() -> None:
    lm = draw_labelmap(3, region="thigh", depth="superficial", volume_ml=5, max_matrix=160, plane="axial")
    from scipy import ndimage

    sl = lm.labels[lm.labels.shape[0] // 2, 0]
    _, n = ndimage.label(sl == Tissue.muscle)
    big = np.bincount(ndimage.label(sl == Tissue.muscle)[0].ravel())[1:]
    assert (big > 200).sum() >= 3, n   # several compartments, not one ring of muscle
    # subcutaneous fat thickness varies around the circumference
    fat = (sl == Tissue.subcut_fat).sum()
    assert fat > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_superficial_tumours_sit_in_subcutaneous_fat_not_in_muscle(seed: int) -> None:
    lm = draw_labelmap(seed, region=REGIONS[seed], depth="superficial", volume_ml=15, max_matrix=128,
                       plane="axial")
    assert set(lm.meta["displaced"]) <= {"subcut_fat", "vessel"}
    nb = _neighbours(lm.labels)
    assert (nb == Tissue.subcut_fat).mean() > 0.3
    assert (nb == Tissue.muscle).mean() < 0.02


@pytest.mark.parametrize("depth", ["deep", "intermuscular"])
def test_deep_tumours_stay_inside_the_deep_fascia(depth: str) -> None:
    for seed in (4, 5):
        lm = draw_labelmap(seed, region="thigh", depth=depth, volume_ml=30, max_matrix=128, plane="axial")
        assert "subcut_fat" not in lm.meta["displaced"] and "skin" not in lm.meta["displaced"]
        nb = _neighbours(lm.labels)
        assert np.isin(nb, [Tissue.subcut_fat, Tissue.skin, Tissue.air]).mean() < 0.02
        assert np.isin(nb, [Tissue.muscle, Tissue.im_fat, Tissue.fascia]).mean() > 0.5


def test_small_tumours_have_the_requested_volume() -> None:
    checked = 0
    for seed, ml in enumerate((2.5, 5.0, 9.0, 14.0, 19.0, 4.0)):
        depth = ("superficial", "deep", "intermuscular")[seed % 3]
        lm = draw_labelmap(100 + seed, depth=depth, volume_ml=ml, max_matrix=128, plane="axial")
        if lm.meta["cut_by_slab"]:
            continue
        checked += 1
        assert lm.meta["volume_ml"] == pytest.approx(ml, rel=0.3), (depth, lm.meta)
    assert checked >= 3


@pytest.mark.parametrize("plane", ["sagittal", "coronal"])
def test_slices_along_the_limb_keep_shapes_spacing_and_the_majority_mask(plane: str) -> None:
    lm = draw_labelmap(4, region="thigh", volume_ml=60, max_matrix=160, plane=plane)
    assert lm.meta["plane"] == plane
    s, p, r, c = lm.labels.shape
    assert 20 <= s <= 48 and max(r, c) <= 160 and lm.mask.shape == (s, r, c)
    dz, dy, dx = lm.spacing
    assert dz == pytest.approx(p * dy) and 3 <= dz <= 6.6 and 0.7 <= dx <= 2.4   # dx: along the limb
    assert np.array_equal(lm.mask, np.isin(lm.labels, TUMOUR).sum(axis=1) * 2 > p)
    assert lm.meta["volume_ml"] == pytest.approx(60, rel=0.35)


def test_labels_feed_the_randomiser() -> None:
    lm = draw_labelmap(21, max_matrix=96)
    image, mask = randomise(lm.labels, lm.mask, np.random.default_rng(0))
    assert image.shape == mask.shape and image.shape[0] == lm.labels.shape[0]
    assert mask.sum() > 0 and float(image.max()) > 0


@pytest.mark.parametrize("index", [72, 142])
def test_a_section_without_a_deep_site_draws_the_body_again(index: int) -> None:
    """Cases 72 and 142 of seed 2027 drew a body section with no muscle deep enough for their deep
    tumour and crashed (``rng.integers(0)``) instead of drawing again."""
    rng = np.random.default_rng([2027 * 1_000_003 + index, 0x1AB5])
    lm = draw_labelmap(rng)
    assert lm.mask.any()


def test_cohort_writes_worc_layout_that_round_trips_and_resumes(tmp_path: Path) -> None:
    out = labelmap_cohort(2, tmp_path / "c", seed=5, max_matrix=96)
    cases = sorted(p for p in out.iterdir() if p.is_dir())
    assert [p.name for p in cases] == ["lm-0000", "lm-0001"]
    for case in cases:
        truth = json.loads((case / "truth.json").read_text())
        img = sitk.ReadImage(str(case / "image.nii.gz"))
        seg = sitk.ReadImage(str(case / "segmentation.nii.gz"))
        assert img.GetPixelID() == sitk.sitkInt16 and seg.GetPixelID() == sitk.sitkUInt8
        assert img.GetSize() == seg.GetSize()
        assert img.GetSpacing() == pytest.approx(tuple(reversed(truth["spacing_mm"])), abs=1e-3)
        m = sitk.GetArrayFromImage(seg)
        assert m.max() == 1
        assert m.sum() * np.prod(img.GetSpacing()) / 1000 == pytest.approx(truth["volume_ml"], abs=0.05)
        assert truth["generator"].startswith("lipo-synth-labelmaps")
        assert {"region", "depth", "volume_ml", "seed"} <= set(truth)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.nii.gz")}
    again = labelmap_cohort(3, out, seed=5, max_matrix=96)   # skips complete cases, adds one
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    assert (again / "lm-0002" / "truth.json").is_file()
    alone = labelmap_case(1, tmp_path / "alone", seed=5, max_matrix=96)   # what a pool worker calls
    assert alone.name == "lm-0001"
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(alone / "image.nii.gz"))),
                          sitk.GetArrayFromImage(sitk.ReadImage(str(out / "lm-0001" / "image.nii.gz"))))


def test_parallel_workers_write_the_same_cases(tmp_path: Path) -> None:
    a = labelmap_cohort(2, tmp_path / "a", seed=9, max_matrix=64, workers=2)
    b = labelmap_cohort(2, tmp_path / "b", seed=9, max_matrix=64, workers=1)
    for name in ("lm-0000", "lm-0001"):
        for f in ("image.nii.gz", "segmentation.nii.gz"):
            x = sitk.GetArrayFromImage(sitk.ReadImage(str(a / name / f)))
            y = sitk.GetArrayFromImage(sitk.ReadImage(str(b / name / f)))
            assert np.array_equal(x, y), (name, f)


def test_cli_writes_a_cohort(tmp_path: Path) -> None:
    from node.cli import main

    assert main(["synth", "labelmaps", "1", str(tmp_path / "cli"), "--seed", "2", "--matrix", "64"]) == 0
    assert (tmp_path / "cli" / "lm-0000" / "truth.json").is_file()


def test_training_label_maps_do_not_use_the_hold_out() -> None:
    tree = ast.parse((REPO / "node" / "synthetic" / "labelmaps.py").read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m.startswith("node.holdout") for m in mods)
