"""Build small MR series with pydicom (classic MR Image Storage and Enhanced MR) for select/jobs tests.

Headers follow PS3.3 A.4 (MR Image) and A.36 (Enhanced MR Image) closely enough for the
selection and completeness logic; pixel data is a tiny 8×8 matrix so files stay small.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def _base(sop_class: str, study_uid: str, series_uid: str, sop_uid: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = "Synthetic^Select"
    ds.PatientID = "SEL001"
    ds.Modality = "MR"
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [1.0, 1.0]
    return ds


def write_series(
    folder: Path,
    study_uid: str,
    description: str,
    *,
    tr: float | None,
    te: float | None,
    ti: float | None = None,
    n: int = 20,
    scanning_sequence: str | list[str] = "SE",
    sequence_variant: str | list[str] = "SK",
    scan_options: str | list[str] = "",
    image_type: Iterable[str] = ("ORIGINAL", "PRIMARY", "M", "NONE"),
    contrast_agent: str | None = None,
    iop: tuple[float, ...] = AXIAL,
    skip: Iterable[int] = (),
    images_in_acquisition: int | None = None,
    protocol: str | None = None,
    modality: str = "MR",
    manufacturer: str = "SIEMENS",
    spacing: float = 5.0,
    orientations: list[tuple[float, ...]] | None = None,
) -> str:
    """Write ``n`` classic MR slices (minus ``skip`` indices, 1-based) and return the series UID."""
    series_uid = generate_uid()
    out = folder / f"s{series_uid[-12:]}"
    out.mkdir(parents=True, exist_ok=True)
    normal = np.cross(np.array(iop[:3]), np.array(iop[3:]))
    skipped = set(skip)
    for i in range(1, n + 1):
        if i in skipped:
            continue
        sop = generate_uid()
        ds = _base(MR, study_uid, series_uid, sop)
        ds.Modality = modality
        ds.Manufacturer = manufacturer
        ds.SeriesDescription = description
        ds.ProtocolName = description if protocol is None else protocol
        ds.ImageType = list(image_type)
        ds.ScanningSequence = scanning_sequence
        ds.SequenceVariant = sequence_variant
        ds.ScanOptions = scan_options
        ds.MRAcquisitionType = "2D"
        if tr is not None:
            ds.RepetitionTime = tr
        if te is not None:
            ds.EchoTime = te
        if ti is not None:
            ds.InversionTime = ti
        if contrast_agent is not None:
            ds.ContrastBolusAgent = contrast_agent
        if images_in_acquisition is not None:
            ds.ImagesInAcquisition = images_in_acquisition
        ori = orientations[(i - 1) % len(orientations)] if orientations else iop
        ds.ImageOrientationPatient = list(ori)
        ds.ImagePositionPatient = [float(v) for v in normal * spacing * i]
        ds.InstanceNumber = i
        ds.SliceThickness = spacing
        ds.PixelData = np.full((8, 8), i, dtype=np.uint16).tobytes()
        ds.save_as(out / f"{i:04d}.dcm", enforce_file_format=True)
    return series_uid


def write_enhanced(
    folder: Path,
    study_uid: str,
    description: str,
    *,
    tr: float,
    te: float,
    acquisition_contrast: str,
    frames: int = 20,
    ti: float | None = None,
    fat_suppression: str = "NONE",
    contrast: bool = False,
    skip: Iterable[int] = (),
    iop: tuple[float, ...] = AXIAL,
) -> str:
    """One Enhanced MR Image (PS3.3 A.36) with physics in the Shared Functional Groups."""
    series_uid = generate_uid()
    sop = generate_uid()
    ds = _base(ENHANCED_MR, study_uid, series_uid, sop)
    ds.Manufacturer = "Philips"
    ds.SeriesDescription = description
    ds.ProtocolName = description
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.SpectrallySelectedSuppression = fat_suppression
    ds.EchoPulseSequence = "SPIN"
    shared = Dataset()
    timing = Dataset()
    timing.RepetitionTime = tr
    timing.FlipAngle = 90
    shared.MRTimingAndRelatedParametersSequence = Sequence([timing])
    echo = Dataset()
    echo.EffectiveEchoTime = te
    shared.MREchoSequence = Sequence([echo])
    modifier = Dataset()
    modifier.InversionRecovery = "YES" if ti is not None else "NO"
    if ti is not None:
        modifier.InversionTimes = [ti]
    shared.MRModifierSequence = Sequence([modifier])
    ftype = Dataset()
    ftype.FrameType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ftype.AcquisitionContrast = acquisition_contrast
    shared.MRImageFrameTypeSequence = Sequence([ftype])
    usage = Dataset()
    usage.ContrastBolusAgentNumber = 1
    usage.ContrastBolusAgentAdministered = "YES" if contrast else "NO"
    shared.ContrastBolusUsageSequence = Sequence([usage])
    orient = Dataset()
    orient.ImageOrientationPatient = list(iop)
    shared.PlaneOrientationSequence = Sequence([orient])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    normal = np.cross(np.array(iop[:3]), np.array(iop[3:]))
    per_frame = []
    kept = [i for i in range(1, frames + 1) if i not in set(skip)]
    for i in kept:
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [float(v) for v in normal * 4.0 * i]
        item.PlanePositionSequence = Sequence([pos])
        content = Dataset()
        content.InStackPositionNumber = i
        item.FrameContentSequence = Sequence([content])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.NumberOfFrames = frames  # the header's count; frames in ``skip`` are absent
    ds.PixelData = np.zeros((len(kept), 8, 8), dtype=np.uint16).tobytes()
    out = folder / f"e{series_uid[-12:]}"
    out.mkdir(parents=True, exist_ok=True)
    ds.save_as(out / "0001.dcm", enforce_file_format=True)
    return series_uid


def write_legacy_converted(folder: Path, study_uid: str, description: str, *, tr: float, te: float,
                           n: int = 12) -> str:
    """A Legacy Converted Enhanced MR Image (PS3.3 A.71) made by highdicom from classic slices."""
    import highdicom as hd
    import pydicom

    scratch = folder / "_classic"
    write_series(scratch, study_uid, description, tr=tr, te=te, n=n)
    datasets = [pydicom.dcmread(p) for p in sorted(scratch.rglob("*.dcm"))]
    for ds in datasets:  # attributes the conversion requires (Type 1/2 in the General modules)
        ds.StudyDate = ds.ContentDate = ds.AcquisitionDate = "20260101"
        ds.StudyTime = ds.ContentTime = ds.AcquisitionTime = "120000"
        ds.AcquisitionDateTime = "20260101120000"
        ds.SeriesNumber, ds.StudyID, ds.AccessionNumber = 1, "1", "A1"
        ds.ReferringPhysicianName = ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"
    series_uid = generate_uid()
    legacy = hd.legacy.LegacyConvertedEnhancedMRImage(
        datasets, series_instance_uid=series_uid, series_number=2,
        sop_instance_uid=generate_uid(), instance_number=1,
    )
    for p in scratch.rglob("*.dcm"):
        p.unlink()
    out = folder / f"l{series_uid[-12:]}"
    out.mkdir(parents=True, exist_ok=True)
    legacy.save_as(out / "0001.dcm")
    return series_uid
