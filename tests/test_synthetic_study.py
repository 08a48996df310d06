"""Synthetic DICOM studies read back the way consumers read them (SimpleITK, pydicom, dciodvfy)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.synthetic import StudySpec, generate_study
from node.synthetic.preview import preview_study

MATRIX = 112  # small studies keep the suite fast; geometry code is matrix-independent


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    """The same deep thigh lipoma written as classic and as Enhanced MR."""
    root = tmp_path_factory.mktemp("synth")
    spec = StudySpec(seed=11, label="lipoma", location="thigh", max_matrix=MATRIX, misleading=False)
    classic = generate_study(root / "classic", spec)
    enhanced = generate_study(root / "enhanced", StudySpec(**{**spec.__dict__, "enhanced": True}))
    return classic, enhanced


def _read_classic(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def _enhanced_volume(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Frames sorted along the slice normal, and their positions."""
    ds = pydicom.dcmread(path)
    shared = ds.SharedFunctionalGroupsSequence[0]
    iop = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    frames = ds.PerFrameFunctionalGroupsSequence
    ipp = np.array([f.PlanePositionSequence[0].ImagePositionPatient for f in frames], float)
    order = np.argsort(ipp @ normal)
    return ds.pixel_array[order], ipp[order]


def test_t1_series_geometry_matches_headers_and_truth(pair) -> None:
    classic, _ = pair
    img = _read_classic(classic.t1_series_dir)
    mask = sitk.ReadImage(str(classic.mask_path))
    first = pydicom.dcmread(sorted(classic.t1_series_dir.iterdir())[0])
    assert img.GetSize() == mask.GetSize()
    np.testing.assert_allclose(img.GetOrigin(), mask.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(img.GetDirection(), mask.GetDirection(), atol=1e-6)
    np.testing.assert_allclose(img.GetSpacing(), mask.GetSpacing(), atol=1e-4)
    px = [float(v) for v in first.PixelSpacing]
    np.testing.assert_allclose(img.GetSpacing()[:2], (px[1], px[0]), atol=1e-4)
    np.testing.assert_allclose(img.GetSpacing()[2], float(first.SpacingBetweenSlices), atol=1e-3)
    iop = np.array(first.ImageOrientationPatient, float)
    np.testing.assert_allclose(np.array(img.GetDirection()).reshape(3, 3)[:, 0], iop[:3], atol=1e-6)
    np.testing.assert_allclose(np.array(img.GetDirection()).reshape(3, 3)[:, 1], iop[3:], atol=1e-6)


def test_truth_mask_lands_on_fatty_tumour_and_box_matches_meta(pair) -> None:
    classic, _ = pair
    img = _read_classic(classic.t1_series_dir)
    arr = sitk.GetArrayFromImage(img).astype(float)
    m = sitk.GetArrayFromImage(sitk.ReadImage(str(classic.mask_path))) > 0
    assert m.sum() > 50
    body = ~m & (arr > 0.15 * np.percentile(arr, 99.5))
    # a lipoma is fat: as bright as the brightest body tissue (subcutaneous fat), far brighter
    # than the muscle that fills most of a limb (T1 fat/muscle ~2.3-4 for TR 400-800, TE 8-20)
    inside = arr[m].mean()
    assert 0.7 < inside / np.percentile(arr[body], 90) < 1.3
    assert inside > 1.6 * np.percentile(arr[body], 30)
    meta = json.loads(classic.meta_path.read_text())
    pts = np.array([img.TransformIndexToPhysicalPoint([int(i) for i in ijk[::-1]]) for ijk in np.argwhere(m)])
    np.testing.assert_allclose(pts.min(0), meta["mask_box_lps_mm"][0], atol=0.01)
    np.testing.assert_allclose(pts.max(0), meta["mask_box_lps_mm"][1], atol=0.01)
    lo, hi = np.array(meta["tumour_box_lps_mm"])
    tol = max(img.GetSpacing())
    assert np.all(pts.min(0) >= lo - tol) and np.all(pts.max(0) <= hi + tol)
    vox_ml = float(np.prod(img.GetSpacing())) / 1000
    assert meta["volume_ml"] == pytest.approx(m.sum() * vox_ml, rel=1e-3)


def test_enhanced_and_classic_give_the_same_image(pair) -> None:
    classic, enhanced = pair
    assert [s.description for s in classic.series] == [s.description for s in enhanced.series]
    for cs, es in zip(classic.series, enhanced.series, strict=True):
        if cs.role == "localizer":
            continue
        ref = sitk.GetArrayFromImage(_read_classic(cs.folder))
        vol, ipp = _enhanced_volume(es.folder / "MF0001.dcm")
        np.testing.assert_array_equal(vol, ref)
        np.testing.assert_allclose(ipp[0], _read_classic(cs.folder).GetOrigin(), atol=1e-3)


def _values(ds: pydicom.Dataset, keyword: str) -> list[str]:
    """A multi-valued CS as a list (pydicom returns a plain str for a single value)."""
    v = ds.get(keyword) or []
    return [v] if isinstance(v, str) else list(v)


def test_series_carry_vendor_physics_for_selection(pair) -> None:
    classic, _ = pair
    by_role = {s.role: pydicom.dcmread(sorted(s.folder.iterdir())[0]) for s in classic.series}
    t1 = by_role["t1"]
    assert 400 <= float(t1.RepetitionTime) <= 800 and 8 <= float(t1.EchoTime) <= 20
    assert "FS" not in _values(t1, "ScanOptions") and "ContrastBolusAgent" not in t1
    fluid = by_role.get("stir") or by_role.get("t2_fs")
    assert float(fluid.RepetitionTime) >= 2500
    if "stir" in by_role:
        assert 140 <= float(by_role["stir"].InversionTime) <= 280
        assert "IR" in _values(by_role["stir"], "ScanningSequence")
    if "t1_fs_post" in by_role:
        post = by_role["t1_fs_post"]
        assert post.ContrastBolusAgent and "FS" in _values(post, "ScanOptions")
    loc = by_role["localizer"]
    assert len({tuple(pydicom.dcmread(p).ImageOrientationPatient) for p in
                classic.series[0].folder.iterdir()}) == 3
    assert loc.Manufacturer == "SIEMENS" or loc.Manufacturer.startswith(("GE", "Philips"))


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_every_series_passes_dciodvfy(pair) -> None:
    for result in pair:
        for s in result.series:
            path = sorted(s.folder.iterdir())[0]
            out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
            errors = [ln for ln in (out.stdout + out.stderr).splitlines() if ln.startswith("Error")]
            assert not errors, f"{s.description or '<empty>'}: {errors}"


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    spec = StudySpec(seed=5, max_matrix=64, enhanced=True)
    a, b = generate_study(tmp_path / "a", spec), generate_study(tmp_path / "b", spec)
    files_a = sorted(p.relative_to(a.study_dir) for p in a.study_dir.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b.study_dir) for p in b.study_dir.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a.study_dir / rel).read_bytes() == (b.study_dir / rel).read_bytes(), rel
    c = generate_study(tmp_path / "c", StudySpec(seed=6, max_matrix=64, enhanced=True))
    assert c.study_uid != a.study_uid


@pytest.mark.parametrize("vendor,needle", [("siemens", "t1_tse_"), ("ge", "T1 FSE"), ("philips", "T1W_TSE_")])
def test_vendor_naming(tmp_path: Path, vendor: str, needle: str) -> None:
    r = generate_study(tmp_path, StudySpec(seed=21, vendor=vendor, max_matrix=64, misleading=False))
    t1 = next(s for s in r.series if s.role == "t1")
    assert needle in t1.description
    if vendor == "philips":
        assert all(s.number % 100 == 1 for s in r.series)


def test_qc_cases(tmp_path: Path) -> None:
    def mask(case: str) -> tuple[np.ndarray, dict]:
        r = generate_study(tmp_path / case, StudySpec(seed=31, case=case, max_matrix=64, location="thigh"))
        return sitk.GetArrayFromImage(sitk.ReadImage(str(r.mask_path))), r.meta

    m, meta = mask("no_tumour")
    assert m.sum() == 0 and meta["n_tumours"] == 0
    m, _ = mask("two_tumours")
    _, n = __import__("scipy.ndimage", fromlist=["label"]).label(m)
    assert n >= 2
    m, _ = mask("fov_cut")
    assert m[0].any() or m[-1].any()  # the tumour runs out of the slab
    _, meta = mask("superficial")
    assert meta["depth"] == "superficial"


def test_preview_writes_png(pair, tmp_path: Path) -> None:
    png = preview_study(pair[0].study_dir, tmp_path / "p.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
