"""Acquisition physics of Enhanced MR Image Storage (PS3.3 A.36) from functional groups.

An attribute may sit in the Shared Functional Groups Sequence (5200,9229) or in each item of
the Per-Frame Functional Groups Sequence (5200,9230) (PS3.3 C.7.6.16); we look in shared
first, then in the first frame. Macros read (PS3.3 C.8.13.5):

- MR Timing and Related Parameters (0018,9112): RepetitionTime, FlipAngle
- MR Echo (0018,9114): EffectiveEchoTime (0018,9082), over all frames (field maps, Dixon)
- MR Modifier (0018,9006): InversionRecovery (0018,9009), InversionTimes (0018,9079)
- MR Image Frame Type (0018,9226): FrameType, AcquisitionContrast (0008,9209),
  ComplexImageComponent (0008,9208) over all frames (magnitude / phase / real / imaginary)
- Contrast/Bolus Usage (0018,9341): ContrastBolusAgentAdministered (0018,9344)
- Plane Position (0020,9113) / Plane Orientation (0020,9116) per frame, for completeness

plus top-level Enhanced MR Image Module attributes SpectrallySelectedSuppression (0018,9025),
EchoPulseSequence (0018,9008), EchoPlanarPulseSequence (0018,9018) and the Enhanced
Contrast/Bolus Module's ContrastBolusAgentSequence.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset


@dataclass(frozen=True)
class EnhancedPhysics:
    tr_ms: float | None = None
    te_ms: float | None = None
    ti_ms: float | None = None
    inversion_recovery: bool | None = None
    acquisition_contrast: str = ""
    frame_type: tuple[str, ...] = ()
    spectral_suppression: str = ""
    echo_pulse_sequence: str = ""
    contrast_administered: bool | None = None
    echo_planar: bool | None = None  # EchoPlanarPulseSequence (0018,9018)
    flip_angle: float | None = None
    complex_components: frozenset[str] = frozenset()  # ComplexImageComponent over all frames
    echo_times: frozenset[float] = frozenset()  # EffectiveEchoTime over all frames


def _groups(ds: Dataset) -> list[Dataset]:
    found: list[Dataset] = []
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        found.append(shared[0])
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame:
        found.append(per_frame[0])
    return found


def _macro(ds: Dataset, seq: str, keyword: str) -> object:
    """``keyword`` inside functional-group macro ``seq`` (shared first, then frame 1)."""
    for group in _groups(ds):
        items = group.get(seq)
        if items and keyword in items[0]:
            value = items[0].get(keyword)
            if value is not None and value != "":
                return value
    return None


def _first_float(value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (str, bytes, int, float)):
        try:
            value = next(iter(value))  # type: ignore[call-overload]
        except (TypeError, StopIteration):
            return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _over_frames(ds: Dataset, seq: str, keyword: str) -> set[object]:
    """Every value of ``keyword`` in macro ``seq`` over shared + all per-frame groups.

    A field map or Dixon set may mix magnitude/phase frames or echoes in one object, so the
    first frame alone cannot say what the series holds (PS3.3 C.8.13.5.6, C.8.13.5.2).
    """
    found: set[object] = set()
    groups = list(ds.get("SharedFunctionalGroupsSequence") or []) + list(
        ds.get("PerFrameFunctionalGroupsSequence") or [])
    for group in groups:
        items = group.get(seq)
        if items and keyword in items[0]:
            value = items[0].get(keyword)
            if value is not None and value != "":
                found.add(value)
    return found


def enhanced_physics(ds: Dataset) -> EnhancedPhysics:
    ir = _macro(ds, "MRModifierSequence", "InversionRecovery")
    frame_type = _macro(ds, "MRImageFrameTypeSequence", "FrameType")
    administered = _macro(ds, "ContrastBolusUsageSequence", "ContrastBolusAgentAdministered")
    agent_seq = ds.get("ContrastBolusAgentSequence")
    contrast: bool | None = True if agent_seq else None
    if administered is not None:
        contrast = str(administered).upper() == "YES"
    return EnhancedPhysics(
        tr_ms=_first_float(_macro(ds, "MRTimingAndRelatedParametersSequence", "RepetitionTime")),
        te_ms=_first_float(_macro(ds, "MREchoSequence", "EffectiveEchoTime")),
        ti_ms=_first_float(_macro(ds, "MRModifierSequence", "InversionTimes")),
        inversion_recovery=None if ir is None else str(ir).upper() == "YES",
        acquisition_contrast=str(
            _macro(ds, "MRImageFrameTypeSequence", "AcquisitionContrast")
            or ds.get("AcquisitionContrast", "") or ""
        ).upper(),
        frame_type=tuple(str(v).upper() for v in frame_type) if frame_type else (),
        spectral_suppression=str(ds.get("SpectrallySelectedSuppression", "") or "").upper(),
        echo_pulse_sequence=str(ds.get("EchoPulseSequence", "") or "").upper(),
        contrast_administered=contrast,
        echo_planar=None if not ds.get("EchoPlanarPulseSequence") else
        str(ds.get("EchoPlanarPulseSequence")).upper() == "YES",
        flip_angle=_first_float(_macro(ds, "MRTimingAndRelatedParametersSequence", "FlipAngle")),
        complex_components=frozenset(
            str(v).upper() for v in _over_frames(ds, "MRImageFrameTypeSequence", "ComplexImageComponent")
        ) | ({str(ds.ComplexImageComponent).upper()} if ds.get("ComplexImageComponent") else set()),
        echo_times=frozenset(
            t for v in _over_frames(ds, "MREchoSequence", "EffectiveEchoTime")
            if (t := _first_float(v)) is not None and t > 0
        ),
    )


def frame_positions(
    ds: Dataset,
) -> list[tuple[tuple[float, float, float] | None, tuple[float, ...] | None]]:
    """(ImagePositionPatient, ImageOrientationPatient) of every frame, per-frame over shared."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    shared_item = shared[0] if shared else Dataset()
    out = []
    for frame in ds.get("PerFrameFunctionalGroupsSequence") or []:
        pos = ori = None
        for group in (frame, shared_item):
            if pos is None and group.get("PlanePositionSequence"):
                ipp = group.PlanePositionSequence[0].get("ImagePositionPatient")
                if ipp is not None and len(ipp) == 3:
                    pos = (float(ipp[0]), float(ipp[1]), float(ipp[2]))
            if ori is None and group.get("PlaneOrientationSequence"):
                iop = group.PlaneOrientationSequence[0].get("ImageOrientationPatient")
                if iop is not None and len(iop) == 6:
                    ori = tuple(float(v) for v in iop)
        out.append((pos, ori))
    return out
