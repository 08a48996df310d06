"""Feature extraction: pyradiomics with the WORC configuration, plus the WORC-only groups.

Order of operations (why):

1. z-score over the *whole* image (WORC default) — done here, before cropping, because
   pyradiomics' own ``normalize`` would only see the cropped block we hand it.
2. crop to the mask's bounding box plus a margin (mm) — filters (LoG, LBP, Gabor) then run on
   a block of a few ten thousand voxels instead of the full field of view: this is what keeps
   extraction near one second per case.
3. 2.5D when the slice spacing exceeds ``anisotropy_2d_ratio`` × the in-plane spacing:
   pyradiomics ``force2D`` (axial, ``force2Ddimension: 0``) — texture matrices only count
   in-plane neighbours, aggregated over all slices of the lesion. LBP is per slice (LBP2D) in
   both modes, as in WORC, so every case has the same feature list.
4. pyradiomics twice: all classes on the original image, first order only on LoG/LBP images
   (WORC computes histogram features on its filter responses).
5. orientation, Gabor, vesselness and local phase from :mod:`node.radiomics.extra`.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import radiomics
import SimpleITK as sitk  # noqa: N813 (the library's own convention)
from radiomics import featureextractor

from node.errors import LipoNodeError
from node.radiomics import extra
from node.radiomics.settings import ExtractionSettings

radiomics.setVerbosity(logging.ERROR)


class FeatureExtractionError(LipoNodeError):
    """Image/mask pair unusable for feature extraction (empty mask, geometry mismatch)."""

    code = "feature_extraction_failed"


@dataclass(frozen=True)
class FeatureVector:
    """Named feature values of one lesion plus the hash of the settings that produced them."""

    names: tuple[str, ...]
    values: tuple[float, ...]
    settings_hash: str

    def __post_init__(self) -> None:
        if len(self.names) != len(self.values):
            raise ValueError(f"{len(self.names)} names but {len(self.values)} values")
        if len(set(self.names)) != len(self.names):
            raise ValueError("duplicate feature names")

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.names, self.values, strict=True))

    def to_json(self) -> str:
        return json.dumps({"settings_hash": self.settings_hash,
                           "features": self.as_dict()}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> FeatureVector:
        raw = json.loads(text)
        feats = raw["features"]
        return cls(tuple(feats), tuple(float(v) for v in feats.values()), raw["settings_hash"])

    def to_file(self, path: Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def from_file(cls, path: Path) -> FeatureVector:
        return cls.from_json(Path(path).read_text())


def feature_group(name: str) -> str:
    """The WORC feature group of a feature name (used for groupwise selection).

    A multi-sequence name ``<sequence>:<feature>`` (:mod:`node.radiomics.multiseq`) belongs
    to the group ``<sequence>:<group>``, so groupwise selection can keep or drop a whole
    sequence's texture, as WORC does per image.
    """
    seq, sep, base = name.partition(":")
    if sep:
        return f"{seq}:{feature_group(base)}"
    prefix, _, rest = name.partition("_")
    if prefix == "original":
        cls = rest.partition("_")[0]
        return "histogram" if cls == "firstorder" else cls
    if prefix.startswith("log-"):
        return "log"
    if prefix.startswith("lbp-"):
        return "lbp"
    return prefix  # orientation, gabor, vessel, phase, clinical, ...


def is_2d(spacing: tuple[float, float, float], ratio: float) -> bool:
    """True when slice spacing (sitk z) exceeds ``ratio`` × the coarser in-plane spacing."""
    return spacing[2] > ratio * max(spacing[0], spacing[1])


def zscore(image: sitk.Image, scale: float) -> sitk.Image:
    """Whole-image z-score × ``scale`` as float32, geometry kept."""
    arr = sitk.GetArrayViewFromImage(image).astype(np.float64)
    sd = arr.std()
    out = (arr - arr.mean()) / (sd if sd > 0 else 1.0) * scale
    img = sitk.GetImageFromArray(out.astype(np.float32))
    img.CopyInformation(image)
    return img


def crop_to_mask(image: sitk.Image, mask: sitk.Image, margin_mm: float,
                 margin_slices: int) -> tuple[sitk.Image, sitk.Image]:
    """Both images cut to the mask's bounding box plus margin (clipped to the grid)."""
    m = sitk.GetArrayViewFromImage(mask)
    nz = np.nonzero(m)
    sp = image.GetSpacing()
    size = image.GetSize()
    lo, hi = [], []
    for axis_np, axis_itk in ((2, 0), (1, 1), (0, 2)):
        marg = math.ceil(margin_mm / sp[axis_itk])
        if axis_itk == 2:
            marg = max(marg, margin_slices)
        lo.append(max(0, int(nz[axis_np].min()) - marg))
        hi.append(min(size[axis_itk] - 1, int(nz[axis_np].max()) + marg))
    extent = [h - lo_ + 1 for lo_, h in zip(lo, hi, strict=True)]
    return (sitk.RegionOfInterest(image, extent, lo), sitk.RegionOfInterest(mask, extent, lo))


def _check_pair(image: sitk.Image, mask: sitk.Image) -> sitk.Image:
    if image.GetDimension() != 3 or mask.GetDimension() != 3:
        raise FeatureExtractionError("image and mask must be 3-D")
    if image.GetSize() != mask.GetSize():
        raise FeatureExtractionError(
            f"mask size {mask.GetSize()} differs from image size {image.GetSize()}")
    if not np.allclose(image.GetSpacing(), mask.GetSpacing(), rtol=1e-3) or not np.allclose(
            image.GetOrigin(), mask.GetOrigin(), atol=1e-2):
        raise FeatureExtractionError("mask geometry (spacing/origin) differs from the image")
    binary = sitk.Cast(mask > 0, sitk.sitkUInt8)
    binary.CopyInformation(image)
    if not sitk.GetArrayViewFromImage(binary).any():
        raise FeatureExtractionError("mask is empty: nothing to extract")
    return binary


@lru_cache(maxsize=8)
def _extractors(settings_json: str, two_d: bool) -> tuple[Any, Any]:
    settings = ExtractionSettings.model_validate_json(settings_json)
    common: dict[str, Any] = dict(settings.pyradiomics)
    common.update(normalize=False, force2D=two_d, force2Ddimension=0)
    original = featureextractor.RadiomicsFeatureExtractor(**common)
    original.disableAllImageTypes()
    original.enableImageTypeByName("Original")
    original.disableAllFeatures()
    for cls in settings.texture_classes:
        original.enableFeatureClassByName(cls)
    filtered = featureextractor.RadiomicsFeatureExtractor(**common)
    filtered.disableAllImageTypes()
    if settings.log_sigma_mm:
        filtered.enableImageTypeByName("LoG", customArgs={"sigma": list(settings.log_sigma_mm)})
    if settings.lbp is not None:  # per slice in 2D and 3D mode alike: one feature list per settings
        filtered.enableImageTypeByName("LBP2D", customArgs={
            "lbp2DRadius": settings.lbp.radius, "lbp2DSamples": settings.lbp.samples})
    filtered.disableAllFeatures()
    for cls in settings.filtered_classes:
        filtered.enableFeatureClassByName(cls)
    return original, filtered


def _numeric(result: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, val in result.items():
        if key.startswith("diagnostics_"):
            continue
        arr = np.asarray(val)
        # pyradiomics' shape axis lengths come from eigenvalues and can carry a ~0 imaginary
        # part (or be NaN) for near-spherical masks; the real part is the measurement
        out[key] = float(arr.real) if np.iscomplexobj(arr) else float(arr)
    return out


def extract(image: sitk.Image, mask: sitk.Image, settings: ExtractionSettings) -> FeatureVector:
    """All features of the lesion ``mask > 0`` in ``image`` under ``settings``.

    Raises :class:`FeatureExtractionError` for an empty mask or a mask on another grid.
    """
    binary = _check_pair(image, mask)
    pre = settings.preprocessing
    img = zscore(image, pre.zscore_scale) if pre.zscore_whole_image else sitk.Cast(
        image, sitk.sitkFloat32)
    img, binary = crop_to_mask(img, binary, pre.crop_margin_mm, pre.crop_margin_slices)
    two_d = is_2d(img.GetSpacing(), pre.anisotropy_2d_ratio)
    original, filtered = _extractors(settings.model_dump_json(), two_d)
    with warnings.catch_warnings():  # skimage warns that LBP on float data is "unexpected"
        warnings.simplefilter("ignore", UserWarning)
        feats = _numeric(original.execute(img, binary, label=1))
        if settings.log_sigma_mm or settings.lbp is not None:
            feats.update(_numeric(filtered.execute(img, binary, label=1)))
    # pyradiomics logs and skips a filter it cannot run (e.g. a missing optional package): that
    # would silently give this case a shorter feature list than the cohort's
    for wanted, prefix in ((bool(settings.log_sigma_mm), "log-sigma"), (settings.lbp is not None, "lbp-")):
        if wanted and not any(k.startswith(prefix) for k in feats):
            raise FeatureExtractionError(f"pyradiomics produced no {prefix}* features (see its log)")
    arr = sitk.GetArrayFromImage(img).astype(np.float32)
    marr = sitk.GetArrayFromImage(binary).astype(bool)
    spacing_zyx = tuple(reversed(img.GetSpacing()))
    feats.update(extra.compute(arr, marr, spacing_zyx, settings.extra, img.GetDirection()))
    names = tuple(feats)
    return FeatureVector(names, tuple(feats[n] for n in names), settings.settings_hash)


def extract_files(image_path: Path, mask_path: Path, settings: ExtractionSettings
                  ) -> FeatureVector:
    """:func:`extract` on two files SimpleITK can read (NIfTI, NRRD, MHA ...)."""
    try:
        image = sitk.ReadImage(str(image_path))
        mask = sitk.ReadImage(str(mask_path))
    except RuntimeError as exc:
        raise FeatureExtractionError(f"cannot read {image_path} / {mask_path}: {exc}") from exc
    return extract(image, mask, settings)
