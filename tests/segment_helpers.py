"""Small self-made data for segment/qc tests: WORC-style cohorts and DICOM series.

The cohorts are deliberately tiny (a bright lobulated blob in a noisy, biased background) so the
smoke training runs in seconds; they are not a stand-in for the synthetic twin of SYNTHETIC.md.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)


def blob_case(
    shape: tuple[int, int, int], seed: int, spacing: tuple[float, float, float] = (4.0, 1.5, 1.5)
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(image, mask)`` arrays (z, y, x): an ellipsoid of high signal in a noisy body."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    centre = [rng.uniform(0.35, 0.65) * n for n in shape]
    radii_mm = rng.uniform(12.0, 25.0, size=3)
    radii = [r / s for r, s in zip(radii_mm, spacing, strict=True)]
    dist = sum(((c - m) / r) ** 2 for c, m, r in zip((zz, yy, xx), centre, radii, strict=True))
    mask = (dist <= 1.0).astype(np.uint8)
    body = np.full(shape, 300.0)
    body += 100.0 * np.sin(xx / shape[2] * np.pi)  # smooth bias field
    image = body + 600.0 * mask + rng.normal(0.0, 40.0, size=shape)
    return image.astype(np.float32), mask


def make_tiny_cohort(out: Path, n: int, seed: int = 0, shape: tuple[int, int, int] = (16, 48, 48)) -> Path:
    """Write ``n`` blob cases in WORC layout (``<Patient>/image.nii.gz``, ``segmentation.nii.gz``)."""
    out.mkdir(parents=True, exist_ok=True)
    spacing_zyx = (4.0, 1.5, 1.5)
    rows = []
    for i in range(n):
        image, mask = blob_case(shape, seed * 1000 + i, spacing_zyx)
        case = out / f"Blob-{i:03d}"
        case.mkdir(exist_ok=True)
        for arr, name in ((image, "image.nii.gz"), (mask, "segmentation.nii.gz")):
            img = sitk.GetImageFromArray(arr)
            img.SetSpacing(tuple(reversed(spacing_zyx)))
            sitk.WriteImage(img, str(case / name))
        rows.append({"Patient": case.name, "label": "lipoma"})
    with (out / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["Patient", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return out


# --- DICOM series built with pydicom (classic) and highdicom (legacy-converted Enhanced MR) ---

ORIENTATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}


def oblique_orientation(
    deg_a: float = 8.0, deg_b: float = 6.0
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """An axial plane tilted about two axes (≤ 10°, as SYNTHETIC.md allows)."""
    a, b = np.deg2rad(deg_a), np.deg2rad(deg_b)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rot = ry @ rx
    return tuple(rot[:, 0]), tuple(rot[:, 1])


def classic_series(
    orientation: str, n: int = 12, rows: int = 40, cols: int = 48, seed: int = 0,
    spacing: tuple[float, float] = (0.9, 0.8), step: float = 4.5, shuffle: bool = True,
):
    """Classic MR Image Storage instances of one series, in shuffled file order.

    Pixel values are unique per frame (so a mis-ordered stack is detected); the geometry follows
    PS3.3 C.7.6.2 with IPP stepping along row × col.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    if orientation == "oblique":
        row_cos, col_cos = oblique_orientation()
    else:
        row_cos, col_cos = ORIENTATIONS[orientation]
    normal = np.cross(row_cos, col_cos)
    rng = np.random.default_rng(seed)
    origin = np.array([-100.0, -80.0, 40.0]) + rng.uniform(-5, 5, 3)
    study, series, frame_ref = (generate_uid(entropy_srcs=[f"{seed}{orientation}{k}"]) for k in "abc")
    datasets = []
    for i in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        uid = generate_uid(entropy_srcs=[f"{seed}{orientation}{i}"])
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, uid
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Test^Geometry", "GEO1", "", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame_ref
        ds.StudyDate, ds.StudyTime, ds.SeriesDate, ds.SeriesTime = "20240101", "120000", "20240101", "120000"
        ds.ContentDate, ds.ContentTime, ds.AcquisitionDateTime = "20240101", "120000", "20240101120000"
        ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = "", "", "1"
        ds.Modality, ds.Manufacturer, ds.SeriesNumber, ds.InstanceNumber = "MR", "lipo-node-tests", 3, i + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "SE", "NONE", ""
        ds.MRAcquisitionType, ds.RepetitionTime, ds.EchoTime, ds.EchoTrainLength = "2D", 500, 12, 1
        ds.MagneticFieldStrength, ds.SliceThickness, ds.SpacingBetweenSlices = 1.5, step - 0.5, step
        ds.PositionReferenceIndicator, ds.PatientPosition = "", "HFS"
        ds.ImagePositionPatient = [float(v) for v in origin + i * step * normal]
        ds.ImageOrientationPatient = [float(v) for v in (*row_cos, *col_cos)]
        ds.PixelSpacing = list(spacing)
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = rows, cols, 16, 12, 11
        ds.PixelRepresentation = 0
        ds.WindowCenter, ds.WindowWidth = 1000, 2000
        plane = (rng.integers(0, 200, (rows, cols)) + 300 * i).astype(np.uint16)
        ds.PixelData = plane.tobytes()
        datasets.append(ds)
    if shuffle:
        rng.shuffle(datasets)
    return datasets


def enhanced_from_classic(datasets):
    """One multi-frame Legacy Converted Enhanced MR instance (per-frame functional groups)."""
    import highdicom as hd
    from pydicom.uid import generate_uid

    ref = datasets[0]
    return hd.legacy.LegacyConvertedEnhancedMRImage(
        legacy_datasets=list(datasets),
        series_instance_uid=generate_uid(entropy_srcs=[ref.SeriesInstanceUID, "enh"]),
        series_number=int(ref.SeriesNumber) + 100,
        sop_instance_uid=generate_uid(entropy_srcs=[ref.SeriesInstanceUID, "enh-sop"]),
        instance_number=1,
    )


def write_series(datasets, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, ds in enumerate(datasets):
        path = folder / f"{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
