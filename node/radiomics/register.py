"""Carry the T1 tumour mask onto another sequence of the study with elastix (itk-elastix).

Spaanderman et al. 2024 (Methods) registered every other sequence to the T1 with elastix and
transferred the T1 segmentation, so multi-sequence features describe the same tumour. The
patient moves between series, so header geometry alone misplaces the mask by millimetres.

Direction: the sequence is the *fixed* image and the T1 the *moving* one; the resulting
transform maps sequence voxels to T1 positions, so the T1 mask is resampled onto the
sequence's own grid and the sequence's intensities are never interpolated (texture features
stay as acquired). Stages and their settings are versioned files in ``params/``
(``registration_v1.yaml`` naming ``elastix_rigid_v1.txt`` then ``elastix_affine_v1.txt``);
their hash travels with the features.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)
import yaml
from pydantic import BaseModel, ConfigDict, Field

from node.errors import ConfigError, LipoNodeError
from node.radiomics.settings import PARAMS_DIR

DEFAULT_REGISTRATION = PARAMS_DIR / "registration_v1.yaml"


class RegistrationError(LipoNodeError):
    """elastix failed, or the transferred mask is empty (sequence does not cover the tumour)."""

    code = "registration_failed"


class RegistrationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    stages: tuple[str, ...]
    focus_margin_mm: float = Field(40.0, ge=0)
    mask_threshold: float = Field(0.5, gt=0, lt=1)
    threads: int = Field(1, ge=1)
    folder: Path = PARAMS_DIR

    def stage_files(self) -> list[Path]:
        return [self.folder / s for s in self.stages]

    @property
    def settings_hash(self) -> str:
        """SHA-256 (16 hex) over these settings and the text of every stage file."""
        h = hashlib.sha256(self.model_dump_json(exclude={"folder"}).encode())
        for p in self.stage_files():
            h.update(p.read_bytes())
        return h.hexdigest()[:16]


def load_registration(path: Path | str | None = None) -> RegistrationSettings:
    p = Path(path) if path is not None else DEFAULT_REGISTRATION
    try:
        raw = yaml.safe_load(p.read_text())
        settings = RegistrationSettings.model_validate({**raw, "folder": p.parent})
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"registration settings {p}: {exc}") from exc
    missing = [f for f in settings.stage_files() if not f.is_file()]
    if missing:
        raise ConfigError(f"registration settings {p}: stage file(s) {missing} not found")
    return settings


@dataclass(frozen=True)
class Transfer:
    """The T1 mask on the sequence's grid, and what it cost."""

    mask: sitk.Image
    seconds: float          # CPU seconds of registration + transfer (process time)
    header_only: bool       # True when registration was skipped (geometry from headers only)


def _to_itk(image: sitk.Image, pixel: type = np.float32):
    import itk

    out = itk.image_from_array(sitk.GetArrayFromImage(image).astype(pixel))
    out.SetOrigin(image.GetOrigin())
    out.SetSpacing(image.GetSpacing())
    out.SetDirection(itk.matrix_from_array(np.asarray(image.GetDirection()).reshape(3, 3)))
    return out


def _from_itk(image, like: sitk.Image) -> sitk.Image:
    import itk

    out = sitk.GetImageFromArray(itk.array_from_image(image))
    out.CopyInformation(like)
    return out


def header_transfer(mask: sitk.Image, target: sitk.Image) -> sitk.Image:
    """The mask resampled onto ``target`` by header geometry only (no registration)."""
    m = sitk.Resample(sitk.Cast(mask > 0, sitk.sitkFloat32), target, sitk.Transform(),
                      sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.Cast(m >= 0.5, sitk.sitkUInt8)


def _focus(mask: sitk.Image, target: sitk.Image, margin_mm: float) -> sitk.Image:
    """Fixed-image mask: the T1 mask dilated by ``margin_mm``, on the sequence grid."""
    dist = sitk.SignedMaurerDistanceMap(sitk.Cast(mask > 0, sitk.sitkUInt8), insideIsPositive=False,
                                        squaredDistance=False, useImageSpacing=True)
    near = sitk.Cast(dist <= margin_mm, sitk.sitkFloat32)
    out = sitk.Resample(near, target, sitk.Transform(), sitk.sitkNearestNeighbor, 0.0,
                        sitk.sitkFloat32)
    return sitk.Cast(out > 0, sitk.sitkUInt8)


def transfer_mask(t1: sitk.Image, t1_mask: sitk.Image, sequence: sitk.Image,
                  settings: RegistrationSettings) -> Transfer:
    """Register the T1 onto ``sequence`` (rigid, then affine) and carry ``t1_mask`` over.

    Raises :class:`RegistrationError` when elastix fails or the mask leaves the sequence's
    field of view (a sequence that does not show the tumour gives no features: imputed).
    """
    import itk

    started = time.process_time()
    focus = _focus(t1_mask, sequence, settings.focus_margin_mm)
    if not sitk.GetArrayViewFromImage(focus).any():
        raise RegistrationError("the sequence's field of view does not reach the tumour")
    params = itk.ParameterObject.New()
    for f in settings.stage_files():
        params.AddParameterFile(str(f))
    fixed = _to_itk(sequence)
    moving = _to_itk(t1)
    try:
        reg = itk.ElastixRegistrationMethod.New(fixed, moving)
        reg.SetParameterObject(params)
        reg.SetFixedMask(_to_itk(focus, np.uint8))
        reg.SetLogToConsole(False)
        reg.SetNumberOfThreads(settings.threads)
        reg.UpdateLargestPossibleRegion()
        result = reg.GetTransformParameterObject()
        tfx = itk.TransformixFilter.New(_to_itk(sitk.Cast(t1_mask > 0, sitk.sitkFloat32)))
        tfx.SetTransformParameterObject(result)
        tfx.SetLogToConsole(False)
        tfx.UpdateLargestPossibleRegion()
        moved = _from_itk(tfx.GetOutput(), sequence)
    except RuntimeError as exc:
        raise RegistrationError(f"elastix failed: {str(exc).splitlines()[0][:200]}") from exc
    mask = sitk.Cast(moved >= settings.mask_threshold, sitk.sitkUInt8)
    if not sitk.GetArrayViewFromImage(mask).any():
        raise RegistrationError("the transferred mask is empty on the sequence's grid")
    return Transfer(mask, time.process_time() - started, False)
