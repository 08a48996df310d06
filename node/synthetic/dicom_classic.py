"""Classic single-frame MR Image Storage (PS3.3 A.4, SOP Class 1.2.840.10008.5.1.4.1.1.4).

Modules written: Patient, General Study, Patient Study, General Series, Frame of Reference,
General Equipment, General Image, General Acquisition, Image Plane (C.7.6.2), Image Pixel,
Contrast/Bolus (C.7.6.4, post-contrast series only), MR Image (C.8.3.1), VOI LUT and SOP
Common. Pixels are 12 bits stored in 16 (MR has no Rescale Slope/Intercept). Files are
Part 10 with Explicit VR Little Endian; nothing time-dependent is written, so a seed always
gives the same bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from node.synthetic.series import Frame, SeriesData, StudyContext, uid

IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.1"


def file_meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = "LIPOSYNTH_1"
    return meta


def _ds(v: float, digits: int = 6) -> str:
    """A Decimal String of at most 16 characters (PS3.5 6.2)."""
    s = f"{v:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s[:16]


def common(ds: Dataset, ctx: StudyContext, s: SeriesData) -> None:
    """Patient, study, series, equipment and frame-of-reference attributes shared by both IODs."""
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = ctx.patient_name
    ds.PatientID = ctx.patient_id
    ds.PatientBirthDate = ctx.birth_date
    ds.PatientSex = ctx.sex
    ds.PatientAge = f"{ctx.age:03d}Y"
    ds.StudyInstanceUID = ctx.study_uid
    ds.StudyDate = ctx.study_date
    ds.StudyTime = ctx.study_time
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.AccessionNumber = ctx.accession
    ds.StudyDescription = "MRI soft tissue mass"
    ds.Modality = "MR"
    ds.SeriesInstanceUID = s.uid
    ds.SeriesNumber = s.number
    ds.SeriesDescription = s.description
    ds.ProtocolName = s.description
    ds.SeriesDate = ctx.study_date
    ds.SeriesTime = series_time(ctx, s)
    ds.PatientPosition = ctx.patient_position
    ds.BodyPartExamined = ctx.body_part
    if ctx.laterality:
        ds.Laterality = ctx.laterality
    ds.FrameOfReferenceUID = ctx.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = ctx.manufacturer
    ds.ManufacturerModelName = ctx.model
    ds.SoftwareVersions = ctx.software
    ds.InstitutionName = "Synthetic Sarcoma Centre"
    ds.StationName = f"MR{ctx.seed % 7 + 1:02d}"
    ds.DeviceSerialNumber = str(10000 + ctx.seed % 9000)
    ds.MagneticFieldStrength = _ds(ctx.field_t)
    ds.BurnedInAnnotation = "NO"


def series_time(ctx: StudyContext, s: SeriesData) -> str:
    h, m = int(ctx.study_time[:2]), int(ctx.study_time[2:4]) + s.minutes
    return f"{h + m // 60:02d}{m % 60:02d}00"


def pixel_module(ds: Dataset, rows: int, cols: int) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0


def mr_image_module(ds: Dataset, ctx: StudyContext, s: SeriesData) -> None:
    """MR Image Module attributes (PS3.3 C.8.3.1) from the series' protocol and naming."""
    p, n = s.protocol, s.naming
    ds.ScanningSequence = n.scanning_sequence.split("\\")
    ds.SequenceVariant = n.sequence_variant.split("\\")
    ds.ScanOptions = n.scan_options.split("\\") if n.scan_options else ""
    ds.MRAcquisitionType = "3D" if p.three_d else "2D"
    ds.SequenceName = n.sequence_name
    ds.AngioFlag = "N"
    ds.RepetitionTime = _ds(p.tr, 2)
    ds.EchoTime = _ds(p.te, 2)
    if p.ti is not None:
        ds.InversionTime = _ds(p.ti, 1)
    ds.NumberOfAverages = "1"
    ds.ImagingFrequency = _ds(42.577478 * ctx.field_t, 6)
    ds.ImagedNucleus = "1H"
    ds.EchoNumbers = "1"
    ds.EchoTrainLength = str(p.echo_train)
    ds.FlipAngle = _ds(p.flip_deg, 1)
    ds.PixelBandwidth = "200"
    ds.InPlanePhaseEncodingDirection = s.phase_dir
    ds.PercentSampling = "100"
    ds.PercentPhaseFieldOfView = "100"


def contrast_module(ds: Dataset, s: SeriesData) -> None:
    if s.contrast_agent:
        ds.ContrastBolusAgent = s.contrast_agent
        ds.ContrastBolusRoute = "IV"
        ds.ContrastBolusVolume = "15"


def slice_location(f: Frame) -> float:
    nrm = np.cross(f.iop[:3], f.iop[3:])
    return float(np.dot(nrm, f.ipp))


def write_classic(s: SeriesData, ctx: StudyContext, folder: Path) -> list[Path]:
    """One file per frame under ``folder`` (IM0001.dcm, ...); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in enumerate(s.frames, start=1):
        sop = uid(ctx.seed, s.uid, "instance", i)
        ds = Dataset()
        ds.file_meta = file_meta(MRImageStorage, sop)
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = sop
        common(ds, ctx, s)
        ds.ImageType = s.image_type
        ds.InstanceNumber = i
        ds.AcquisitionNumber = 1
        ds.ContentDate = ctx.study_date
        ds.ContentTime = series_time(ctx, s)
        ds.AcquisitionDate = ctx.study_date
        ds.AcquisitionTime = series_time(ctx, s)
        ds.ImagePositionPatient = [_ds(v) for v in f.ipp]
        ds.ImageOrientationPatient = [_ds(v, 8) for v in f.iop]
        ds.PixelSpacing = [_ds(v) for v in f.pixel_spacing]
        ds.SliceThickness = _ds(f.thickness)
        ds.SpacingBetweenSlices = _ds(f.spacing_between)
        ds.SliceLocation = _ds(slice_location(f))
        pixel_module(ds, *f.pixels.shape)
        mr_image_module(ds, ctx, s)
        if s.frame_te is not None:
            ds.EchoTime = _ds(s.frame_te[i - 1], 2)
            ds.EchoNumbers = str(sorted(set(s.frame_te)).index(s.frame_te[i - 1]) + 1)
        contrast_module(ds, s)
        rows, cols = f.pixels.shape
        ds.AcquisitionMatrix = [0, cols, rows, 0] if s.phase_dir == "ROW" else [cols, 0, 0, rows]
        ds.WindowCenter = _ds(s.window[0], 0)
        ds.WindowWidth = _ds(max(s.window[1], 1.0), 0)
        ds.PixelData = np.ascontiguousarray(f.pixels, dtype=np.uint16).tobytes()
        path = folder / f"IM{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def angle_deg(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(a, b))))))
