"""Our preprocessing on phantoms with known statistics: whole-image z-score, bin count 16,
2.5D switching on slice spacing, cropping, orientation, named refusals, settings hash."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

sys.path.insert(0, str(Path(__file__).resolve().parent))
from radiomics_helpers import ellipsoid_case

from node.radiomics import FeatureExtractionError, extract, feature_group, load_settings
from node.radiomics.features import crop_to_mask, is_2d
from node.radiomics.settings import ExtractionSettings

REPO = Path(__file__).resolve().parents[1]


def _img(arr: np.ndarray, spacing: tuple[float, float, float]) -> sitk.Image:
    im = sitk.GetImageFromArray(arr)
    im.SetSpacing(spacing)
    return im


@pytest.fixture(scope="module")
def settings() -> ExtractionSettings:
    return load_settings()


def _two_valued(spacing=(1.0, 1.0, 1.0)) -> tuple[sitk.Image, sitk.Image, float]:
    arr = np.full((10, 40, 40), 10.0, dtype=np.float32)
    m = np.zeros(arr.shape, dtype=np.uint8)
    m[3:7, 10:30, 12:28] = 1
    arr[m == 1] = 30.0
    f = m.mean()
    image = _img(arr, spacing)
    mask = sitk.GetImageFromArray(m)
    mask.CopyInformation(image)
    return image, mask, f


def test_zscore_is_over_the_whole_image_not_the_crop(settings: ExtractionSettings) -> None:
    image, mask, f = _two_valued()
    fv = extract(image, mask, settings).as_dict()
    # lesion value 30, background 10, lesion fraction f: z = sqrt((1-f)/f), scaled by 100
    expected = settings.preprocessing.zscore_scale * math.sqrt((1 - f) / f)
    assert fv["original_firstorder_Mean"] == pytest.approx(expected, rel=1e-4)


def test_fixed_bin_count_16_caps_entropy_at_4_bits(settings: ExtractionSettings) -> None:
    rng = np.random.default_rng(1)
    arr = rng.uniform(0, 1000, (8, 48, 48)).astype(np.float32)
    m = np.zeros(arr.shape, dtype=np.uint8)
    m[1:7, 4:44, 4:44] = 1
    image = _img(arr, (1.0, 1.0, 1.0))
    mask = sitk.GetImageFromArray(m)
    mask.CopyInformation(image)
    ent = extract(image, mask, settings).as_dict()["original_firstorder_Entropy"]
    assert 3.95 < ent <= 4.0 + 1e-9  # uniform data over 16 bins: log2(16) = 4


def test_thick_slices_switch_texture_to_in_plane_only(settings: ExtractionSettings) -> None:
    # intensity alternates between slices and is constant within a slice: only cross-slice
    # neighbours differ, so GLCM contrast is > 0 in 3D and exactly 0 in 2.5D (force2D)
    arr = np.where(np.arange(12)[:, None, None] % 2 == 0, 50.0, 150.0) * np.ones((12, 32, 32))
    m = np.zeros(arr.shape, dtype=np.uint8)
    m[2:10, 6:26, 6:26] = 1
    arr = arr.astype(np.float32)
    contrast = {}
    for name, spacing in (("iso", (1.0, 1.0, 1.0)), ("thick", (1.0, 1.0, 2.5))):
        image = _img(arr, spacing)
        mask = sitk.GetImageFromArray(m)
        mask.CopyInformation(image)
        contrast[name] = extract(image, mask, settings).as_dict()["original_glcm_Contrast"]
    assert is_2d((1.0, 1.0, 2.5), 2.0) and not is_2d((1.0, 1.0, 2.0), 2.0)
    assert contrast["iso"] > 1.0
    assert contrast["thick"] == pytest.approx(0.0, abs=1e-9)


def test_isotropic_and_thick_slice_cases_have_the_same_feature_list(settings: ExtractionSettings) -> None:
    """One settings hash, one feature list: a cohort mixes 3D and 2.5D cases, and a classifier
    bundle needs every case's vector in the same columns (v1 lost LBP on isotropic cases)."""
    image, mask = ellipsoid_case(7, alt=True)
    names = {}
    for name, spacing in (("iso", (1.0, 1.0, 1.0)), ("thick", (1.0, 1.0, 4.0))):
        img = sitk.Image(image)
        img.SetSpacing(spacing)
        m = sitk.Image(mask)
        m.CopyInformation(img)
        names[name] = extract(img, m, settings).names
    assert is_2d((1.0, 1.0, 4.0), settings.preprocessing.anisotropy_2d_ratio)
    assert names["iso"] == names["thick"] and any(n.startswith("lbp-2D") for n in names["iso"])


def test_crop_keeps_margin_and_physical_position() -> None:
    image, mask = ellipsoid_case(3, alt=False)
    ci, cm = crop_to_mask(image, mask, margin_mm=4.0, margin_slices=1)
    assert ci.GetSize()[0] < image.GetSize()[0]
    assert sitk.GetArrayViewFromImage(cm).sum() == sitk.GetArrayViewFromImage(mask).sum()
    idx = np.argwhere(sitk.GetArrayViewFromImage(cm))[0][::-1]
    p_crop = ci.TransformIndexToPhysicalPoint([int(i) for i in idx])
    p_full = image.TransformPhysicalPointToIndex(p_crop)
    assert sitk.GetArrayViewFromImage(mask)[p_full[2], p_full[1], p_full[0]] == 1


def test_orientation_finds_the_long_axis(settings: ExtractionSettings) -> None:
    zz, yy, xx = np.mgrid[:10, :40, :60]
    m = (((xx - 30) / 25.0) ** 2 + ((yy - 20) / 8.0) ** 2 + ((zz - 5) / 3.0) ** 2 < 1)
    image = _img(np.where(m, 200.0, 50.0).astype(np.float32), (1.0, 1.0, 1.0))
    mask = sitk.GetImageFromArray(m.astype(np.uint8))
    mask.CopyInformation(image)
    fv = extract(image, mask, settings).as_dict()
    assert fv["orientation_MajorAngleX"] < 5.0
    assert fv["orientation_MajorAngleZ"] > 85.0
    assert fv["orientation_MajorLength"] == pytest.approx(50.0, rel=0.1)


def test_feature_vector_has_all_worc_groups(settings: ExtractionSettings) -> None:
    image, mask = ellipsoid_case(5, alt=True)
    fv = extract(image, mask, settings)
    groups = {feature_group(n) for n in fv.names}
    assert groups >= {"histogram", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm", "log",
                      "lbp", "gabor", "vessel", "phase", "orientation"}
    assert all(np.isfinite(fv.values))
    assert fv.settings_hash == settings.settings_hash


def test_empty_or_misaligned_mask_is_refused(settings: ExtractionSettings) -> None:
    image, mask = ellipsoid_case(1, alt=False)
    empty = sitk.Image(mask.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(image)
    with pytest.raises(FeatureExtractionError, match="empty"):
        extract(image, empty, settings)
    moved = sitk.Image(mask)
    moved.SetOrigin((5.0, 0.0, 0.0))
    with pytest.raises(FeatureExtractionError, match="geometry"):
        extract(image, moved, settings)


def test_settings_hash_changes_with_any_value(settings: ExtractionSettings) -> None:
    raw = settings.model_dump()
    raw["pyradiomics"]["binCount"] = 32
    other = ExtractionSettings.model_validate(raw)
    assert other.settings_hash != settings.settings_hash
    assert ExtractionSettings.model_validate(settings.model_dump()).settings_hash == \
        settings.settings_hash


def test_features_cli_writes_json(tmp_path: Path, settings: ExtractionSettings) -> None:
    image, mask = ellipsoid_case(2, alt=True)
    sitk.WriteImage(image, str(tmp_path / "i.nii.gz"))
    sitk.WriteImage(mask, str(tmp_path / "m.nii.gz"))
    out = tmp_path / "f.json"
    r = subprocess.run([str(REPO / ".venv/bin/lipo-node"), "features", str(tmp_path / "i.nii.gz"),
                        str(tmp_path / "m.nii.gz"), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert data["settings_hash"] == settings.settings_hash
    assert data["features"]["original_shape_VoxelVolume"] > 0
