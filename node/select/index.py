"""Header-only index of a study: per-series acquisition physics and slice geometry.

Built from a folder of DICOM files or from store records, reading headers only
(``stop_before_pixels``). Classic MR Image Storage (PS3.3 A.4) carries the physics in the MR
Image Module (C.8.3.1); Enhanced MR (A.36) moves it into functional groups (C.8.13, C.7.6.16),
read from the Shared Functional Groups first and the first frame's Per-Frame group second
(:mod:`node.select.enhanced`). Either way a series ends up as one :class:`SeriesHeader`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from node.select.enhanced import EnhancedPhysics, enhanced_physics, frame_positions
from node.store.store import InstanceRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SliceInfo:
    """One image (classic instance) or frame (Enhanced MR) as the completeness check needs it."""

    instance_number: int | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None


@dataclass
class SeriesHeader:
    """What selection and completeness need from one series (first instance + all slices)."""

    series_uid: str
    study_uid: str
    modality: str = ""
    sop_class_uid: str = ""
    manufacturer: str = ""
    description: str = ""
    protocol: str = ""
    sequence_name: str = ""
    image_type: tuple[str, ...] = ()
    scanning_sequence: tuple[str, ...] = ()
    sequence_variant: tuple[str, ...] = ()
    scan_options: tuple[str, ...] = ()
    tr_ms: float | None = None
    te_ms: float | None = None
    ti_ms: float | None = None
    contrast_agent: str = ""
    station_name: str = ""
    flip_angle: float | None = None
    acquisition_type: str = ""  # MRAcquisitionType (0018,0023): 2D / 3D
    enhanced: EnhancedPhysics | None = None
    # aggregated over every image of the series (one instance cannot tell a field map or a
    # magnitude/phase mix): ImageType values 3+ (PS3.3 C.8.3.1.1.1), ComplexImageComponent,
    # echo times
    image_kinds: set[str] = field(default_factory=set)
    echo_times: set[float] = field(default_factory=set)
    non_image_objects: int = 0  # Raw Data, reports ... sharing the series UID (not counted)
    expected_count: int | None = None
    slices: list[SliceInfo] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        return len(self.slices)

    @property
    def names(self) -> str:
        """Free-text names matched by the site's patterns (lower case)."""
        return " ".join(x for x in (self.description, self.protocol, self.sequence_name) if x).lower()

    @property
    def dominant_orientation(self) -> tuple[float, ...] | None:
        found = [s.orientation for s in self.slices if s.orientation is not None]
        if not found:
            return None
        values, counts = np.unique(np.round(np.array(found), 3), axis=0, return_counts=True)
        return tuple(float(v) for v in values[int(np.argmax(counts))])

    @property
    def orientation_label(self) -> str:
        """axial / coronal / sagittal from the slice normal's dominant LPS axis (PS3.3 C.7.6.2.1.1)."""
        iop = self.dominant_orientation
        if iop is None or len(iop) != 6:
            return "unknown"
        normal = np.cross(np.array(iop[:3]), np.array(iop[3:]))
        axis = int(np.argmax(np.abs(normal)))
        if abs(normal[axis]) < 0.8:
            return "oblique"
        return ("sagittal", "coronal", "axial")[axis]


@dataclass
class StudyIndex:
    study_uid: str
    series: dict[str, SeriesHeader] = field(default_factory=dict)
    unreadable: list[Path] = field(default_factory=list)

    @classmethod
    def from_datasets(cls, items: Iterable[tuple[Path, Dataset]]) -> StudyIndex:
        index: StudyIndex | None = None
        for path, ds in items:
            study_uid = str(ds.get("StudyInstanceUID", ""))
            if index is None:
                index = cls(study_uid)
            elif study_uid != index.study_uid:
                log.warning("skipping %s: study %s differs from %s", path.name, study_uid, index.study_uid)
                continue
            index._add(path, ds)
        return index if index is not None else cls("")

    @classmethod
    def from_paths(cls, paths: Sequence[Path]) -> StudyIndex:
        unreadable: list[Path] = []

        def headers() -> Iterable[tuple[Path, Dataset]]:
            for p in sorted(paths):
                try:
                    yield p, pydicom.dcmread(p, stop_before_pixels=True)
                except (InvalidDicomError, OSError, ValueError, EOFError):
                    unreadable.append(p)

        index = cls.from_datasets(headers())
        index.unreadable = unreadable
        return index

    @classmethod
    def from_folder(cls, folder: Path) -> StudyIndex:
        """Every regular file below ``folder`` that parses as DICOM (no extension required)."""
        return cls.from_paths([p for p in Path(folder).rglob("*") if p.is_file()])

    @classmethod
    def from_records(cls, records: Sequence[InstanceRecord]) -> StudyIndex:
        """From the store's index rows (each record's ``.path`` in the spool)."""
        return cls.from_paths([Path(r.path) for r in records])

    def _add(self, path: Path, ds: Dataset) -> None:
        """Add one instance; the series header comes from an image, never from a non-image
        object (Raw Data, a protocol report) that happens to share the SeriesInstanceUID."""
        uid = str(ds.get("SeriesInstanceUID", ""))
        image = is_image(ds)
        hdr = self.series.get(uid)
        if hdr is None or (image and not hdr.slices):
            fresh = _series_header(self.study_uid, uid, ds)
            if hdr is not None:
                fresh.paths, fresh.non_image_objects = hdr.paths, hdr.non_image_objects
            hdr = self.series[uid] = fresh
        hdr.paths.append(path)
        if not image:
            hdr.non_image_objects += 1
            return
        hdr.slices.extend(_slices(ds))
        _aggregate(hdr, ds)


class _Attrs:
    """Classic MR attributes of an instance, wherever this SOP class keeps them.

    Legacy Converted Enhanced MR (PS3.3 A.71) moves attributes that have no functional-group
    home into the Unassigned Shared / Per-Frame Converted Attributes Sequences (0020,9170 /
    0020,9171, PS3.3 C.7.6.16.2.24); look there after the top level.
    """

    def __init__(self, ds: Dataset) -> None:
        self.sources = [ds]
        for seq, inner in (("SharedFunctionalGroupsSequence", "UnassignedSharedConvertedAttributesSequence"),
                           ("PerFrameFunctionalGroupsSequence",
                            "UnassignedPerFrameConvertedAttributesSequence")):
            groups = ds.get(seq)
            if groups and groups[0].get(inner):
                self.sources.append(groups[0].get(inner)[0])

    def get(self, keyword: str) -> object:
        for src in self.sources:
            value = src.get(keyword)
            if value is not None and value != "":
                return value
        return None

    def multi(self, keyword: str) -> tuple[str, ...]:
        value = self.get(keyword)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value.strip().upper(),)
        return tuple(str(v).strip().upper() for v in value)  # type: ignore[attr-defined]

    def text(self, keyword: str) -> str:
        value = self.get(keyword)
        return "" if value is None else str(value).strip()


NON_IMAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4.2",  # MR Spectroscopy
    "1.2.840.10008.5.1.4.1.1.66",  # Raw Data
}


def is_image(ds: Dataset) -> bool:
    """An image object: pixel module present (Rows) and not a known non-image SOP class."""
    return "Rows" in ds and str(ds.get("SOPClassUID", "")) not in NON_IMAGE_CLASSES


def _aggregate(hdr: SeriesHeader, ds: Dataset) -> None:
    a = _Attrs(ds)
    hdr.image_kinds.update(a.multi("ImageType")[2:])
    cic = a.text("ComplexImageComponent").upper()
    if cic:
        hdr.image_kinds.add(cic)
    te = _float(a.get("EchoTime"))
    if te is not None and te > 0:
        hdr.echo_times.add(round(te, 2))
    if hdr.enhanced is not None and "PerFrameFunctionalGroupsSequence" in ds:
        phys = enhanced_physics(ds)
        hdr.image_kinds.update(phys.frame_type[2:])
        hdr.image_kinds.update(phys.complex_components)
        hdr.echo_times.update(round(t, 2) for t in phys.echo_times)


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
            value = value[0]
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, IndexError):
        return None


def _series_header(study_uid: str, series_uid: str, ds: Dataset) -> SeriesHeader:
    a = _Attrs(ds)
    hdr = SeriesHeader(
        series_uid=series_uid,
        study_uid=study_uid,
        modality=a.text("Modality"),
        sop_class_uid=a.text("SOPClassUID"),
        manufacturer=a.text("Manufacturer"),
        description=a.text("SeriesDescription"),
        protocol=a.text("ProtocolName"),
        sequence_name=a.text("SequenceName") or a.text("PulseSequenceName"),
        image_type=a.multi("ImageType"),
        scanning_sequence=a.multi("ScanningSequence"),
        sequence_variant=a.multi("SequenceVariant"),
        scan_options=a.multi("ScanOptions"),
        tr_ms=_float(a.get("RepetitionTime")),
        te_ms=_float(a.get("EchoTime")),
        ti_ms=_float(a.get("InversionTime")),
        contrast_agent=a.text("ContrastBolusAgent"),
        station_name=a.text("StationName"),
        flip_angle=_float(a.get("FlipAngle")),
        acquisition_type=a.text("MRAcquisitionType").upper(),
    )
    images = _float(a.get("ImagesInAcquisition"))
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        phys = enhanced_physics(ds)
        hdr.enhanced = phys
        hdr.tr_ms = hdr.tr_ms if hdr.tr_ms is not None else phys.tr_ms
        hdr.te_ms = hdr.te_ms if hdr.te_ms is not None else phys.te_ms
        hdr.ti_ms = hdr.ti_ms if hdr.ti_ms is not None else phys.ti_ms
        hdr.flip_angle = hdr.flip_angle if hdr.flip_angle is not None else phys.flip_angle
        if not hdr.image_type and phys.frame_type:
            hdr.image_type = phys.frame_type
        frames = _float(ds.get("NumberOfFrames"))
        hdr.expected_count = int(frames) if frames else None
    elif images:
        hdr.expected_count = int(images)
    return hdr


def _slices(ds: Dataset) -> list[SliceInfo]:
    if "PerFrameFunctionalGroupsSequence" in ds:
        return [SliceInfo(i + 1, pos, iop) for i, (pos, iop) in enumerate(frame_positions(ds))]
    ipp = ds.get("ImagePositionPatient")
    iop = ds.get("ImageOrientationPatient")
    num = _float(ds.get("InstanceNumber"))
    return [SliceInfo(
        int(num) if num is not None else None,
        tuple(float(v) for v in ipp) if ipp is not None and len(ipp) == 3 else None,  # type: ignore[arg-type]
        tuple(float(v) for v in iop) if iop is not None and len(iop) == 6 else None,
    )]
