"""DICOM Segmentation (PS3.3 A.51) of the tumour, built with highdicom.

BINARY, uncompressed (Explicit VR Little Endian), one segment, every source frame present
(also empty ones) so the SEG is pixel-aligned frame for frame with the source series and a
reader needs no geometry of its own to rebuild the volume.

Frame order of ``mask`` (shape ``(n_frames, rows, cols)``):

* classic single-frame source (MR Image Storage): one mask frame per dataset, in the order
  of the ``source`` list **as given**. Use :func:`sort_source` to get the order the
  segmentation stage uses (ascending position along the slice normal).
* one Enhanced / Legacy Converted Enhanced MR dataset: the dataset's own frame order
  (frame 1 first), i.e. ``mask[i]`` belongs to frame ``i + 1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
import pydicom

import node
from node.errors import ReportError
from node.report.inputs import ReportInputs
from node.report.templates import Templates
from node.report.uids import ResultUids


def sort_source(datasets: Sequence[pydicom.Dataset]) -> list[pydicom.Dataset]:
    """Classic single-frame series sorted by position along the slice normal (ascending): the
    segment stage's order (:func:`node.segment.geometry.sort_frames`, one sorter for both).

    One multi-frame dataset is returned unchanged (its frame order is the mask order).
    """
    from node.segment.geometry import GeometryError, sort_frames

    items = list(datasets)
    if len(items) == 1 and int(getattr(items[0], "NumberOfFrames", 1) or 1) > 1:
        return items
    if any("ImagePositionPatient" not in d or "ImageOrientationPatient" not in d for d in items):
        raise ReportError("source images lack ImagePositionPatient/ImageOrientationPatient")
    try:
        return sort_frames(items)
    except GeometryError as exc:
        raise ReportError(f"source images do not form one regular stack: {exc}") from exc


def expected_shape(source: Sequence[pydicom.Dataset]) -> tuple[int, int, int]:
    first = source[0]
    frames = int(getattr(first, "NumberOfFrames", 1) or 1) if len(source) == 1 else len(source)
    return frames, int(first.Rows), int(first.Columns)


def check_source(source: Sequence[pydicom.Dataset], mask: np.ndarray) -> None:
    """Raise :class:`ReportError` before anything is built (STYLE.md: valid or nothing)."""
    if not source:
        raise ReportError("no source images for the SEG")
    series = {d.SeriesInstanceUID for d in source}
    if len(series) != 1:
        raise ReportError(f"source images come from {len(series)} series; the SEG needs one")
    if len(source) > 1 and any(int(getattr(d, "NumberOfFrames", 1) or 1) > 1 for d in source):
        raise ReportError("give either one multi-frame dataset or single-frame images, not both")
    if mask.ndim != 3:
        raise ReportError(f"mask must be (frames, rows, cols), got shape {mask.shape}")
    want = expected_shape(source)
    if tuple(mask.shape) != want:
        raise ReportError(f"mask shape {tuple(mask.shape)} does not match the source {want}")
    if not np.any(mask):
        raise ReportError("mask is empty: nothing to report")


def anatomic_region(source: Sequence[pydicom.Dataset], tpl: Templates) -> hd.sr.CodedConcept | None:
    """BodyPartExamined (PS3.16 Annex L defined terms) → the template's region code."""
    part = str(getattr(source[0], "BodyPartExamined", "") or "").strip().upper()
    code = tpl.segment.anatomic_regions.get(part)
    return tpl.code(code) if code else None


def algorithm_identification(info: ReportInputs, tpl: Templates) -> hd.AlgorithmIdentificationSequence:
    version = info.algorithm_version
    params = {"template_version": tpl.template_version, "lipo_node": node.__version__}
    return hd.AlgorithmIdentificationSequence(
        name=tpl.algorithm.name, family=tpl.code(tpl.algorithm.family), version=version,
        source=tpl.algorithm.source, parameters=params,
    )


def contributing_equipment(tpl: Templates, info: ReportInputs) -> hd.ContributingEquipment:
    """The node as processing equipment (IHE AIR; PS3.3 C.12.1.1.5)."""
    eq = tpl.equipment
    return hd.ContributingEquipment(
        manufacturer=eq.manufacturer, purpose_of_reference=tpl.code(eq.purpose_of_reference),
        manufacturer_model_name=eq.model_name, software_versions=software_versions(info),
        device_serial_number=eq.device_serial_number, institution_name=eq.institution_name,
        station_name=eq.station_name, contribution_description=eq.contribution_description,
    )


def software_versions(info: ReportInputs) -> list[str]:
    return [f"lipo-node {node.__version__}",
            *(f"{k} {v}"[:64] for k, v in sorted(info.model_versions.items()))]


def build_seg(source: list[pydicom.Dataset], mask: np.ndarray, info: ReportInputs,
              templates: Templates, uids: ResultUids, *, description: str,
              headline: str) -> hd.seg.Segmentation:
    """One-segment BINARY SEG aligned with ``source`` (see module docstring for frame order)."""
    check_source(source, mask)
    seg_tpl = templates.segment
    region = anatomic_region(source, templates)
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=seg_tpl.label,
        segmented_property_category=templates.code(seg_tpl.category),
        segmented_property_type=templates.code(seg_tpl.type),
        algorithm_type=(hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
                        if info.seg_method.value == "automatic"
                        else hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
                        if info.seg_method.value == "interactive"
                        else hd.seg.SegmentAlgorithmTypeValues.MANUAL),
        algorithm_identification=(algorithm_identification(info, templates)
                                  if info.seg_method.value != "manual" else None),
        tracking_id=templates.sr.tracking_identifier,
        tracking_uid=uids.tracking,
        anatomic_regions=[region] if region is not None else None,
        display_color=hd.color.CIELabColor.from_rgb(*seg_tpl.display_color_rgb),
    )
    eq = templates.equipment
    try:
        seg = hd.seg.Segmentation(
            source_images=source,
            pixel_array=np.ascontiguousarray(mask.astype(bool)),
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[segment],
            series_instance_uid=uids.seg_series,
            series_number=templates.descriptions.seg_series_number,
            sop_instance_uid=uids.seg_instance,
            instance_number=1,
            manufacturer=eq.manufacturer,
            manufacturer_model_name=eq.model_name,
            software_versions=software_versions(info),
            device_serial_number=eq.device_serial_number,
            content_description=headline[:64],
            content_label=templates.descriptions.content_label,
            content_creator_name=None,
            omit_empty_frames=False,
            contributing_equipment=[contributing_equipment(templates, info)],
            transfer_syntax_uid=pydicom.uid.ExplicitVRLittleEndian,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ReportError(f"highdicom refused the SEG: {exc}") from exc
    seg.SeriesDescription = description[:64]
    return seg

