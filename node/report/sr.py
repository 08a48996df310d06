"""Comprehensive 3D SR with a TID 1500 Measurement Report (PS3.16), IHE AIR style.

Observer = the node as a device (TID 1004). Two measurement groups describe the same tumour
and share its Tracking Identifier and Tracking Unique Identifier (TID 4108):

* TID 1410 planar ROI: the closed outline (SCOORD POLYLINE, concept (111030, DCM, "Image
  Region"), SELECTED FROM the T1 image) on the slice where the tumour is largest, with P(ALT)
  (in %) and the predicted class.
* TID 1411 volumetric ROI: references segment 1 of the SEG (what dcmqi ``tid1500reader`` and
  3D tools read) with volume and longest axial diameter, finding site, and the predicted
  class, QC status, segmentation method and OOD flag.

OHIF 3.x merges the groups that share a Tracking UID, draws the outline and labels it with
the NUMs in document order, then the finding site, as "CodeMeaning: value unit" (at most five
lines; "Long Axis" spelt so would become "L: :"), so each NUM is stated once: "P(ALT): 91.00
%", "Volume: 672.00 ml", "Long axis: 134.70 mm". Codes are not shown there; the class is in
the headline (Series Description) and on the key image.

Qualitative evaluations: predicted class under (116676008, SCT, "Associated morphology"), not
(121071, DCM, "Finding") (ARCHITECTURE.md). Every item carries the algorithm identification
(TID 4019). The headline is the SR's Series Description: Content Description (0070,0081) is
not part of the Comprehensive 3D SR IOD (dciodvfy warns), so it is not set.

highdicom 0.28.2: ``ReferencedSegment.from_segmentation(seg, 1)`` raises for single-segment
SEGs, so the reference is built directly with ``SourceSeriesForSegmentation``.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import pydicom
from pydicom.sr.codedict import codes

from node.errors import ReportError
from node.report.inputs import ReportInputs
from node.report.outline import Outline
from node.report.seg import anatomic_region, contributing_equipment
from node.report.templates import Templates
from node.report.uids import ResultUids

COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"


def headline(info: ReportInputs, tpl: Templates) -> str:
    """E.g. "P(ALT) 0.83 - ALT likely, auto-seg, QC pass" (fits VR LO, 64 chars)."""
    d = tpl.descriptions
    text = d.headline.format(
        p=info.alt_probability, label_text=d.label_text.get(info.label.value, info.label.value),
        method_short=d.method_short.get(info.seg_method.value, info.seg_method.value),
        qc=info.qc_status.value,
    )
    if info.ood:
        text += ", OOD"
    if info.amended_from is not None:
        text = d.amended_prefix + text
    return text[:64]


def _algorithm(info: ReportInputs, tpl: Templates) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(
        name=tpl.algorithm.name, version=info.algorithm_version, family=tpl.code(tpl.algorithm.family),
        manufacturer=tpl.equipment.manufacturer,
        # TID 4019 Algorithm Parameters: which sequences fed the classifier (multi-sequence)
        parameters=[f"sequences: {', '.join(info.sequences)}"[:64]] if info.sequences else None,
    )


def _qualitative(name: hd.sr.CodedConcept, value: hd.sr.CodedConcept,
                 algo: hd.sr.AlgorithmIdentification) -> hd.sr.QualitativeEvaluation:
    """A CODE evaluation with the TID 4019 algorithm items as HAS CONCEPT MOD children."""
    ev = hd.sr.QualitativeEvaluation(name=name, value=value)
    ev[0].ContentSequence = pydicom.Sequence(list(algo))
    return ev


def _observation_context(tpl: Templates) -> hd.sr.ObservationContext:
    eq = tpl.equipment
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=eq.device_observer_uid, name=eq.device_observer_name,
        manufacturer_name=eq.manufacturer, model_name=eq.model_name,
        serial_number=eq.device_serial_number,
    )
    return hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device, observer_identifying_attributes=device)
    )


def source_image_for(source: Sequence[pydicom.Dataset], frame: int) -> hd.sr.SourceImageForRegion:
    """The image (and frame, for one multi-frame dataset) that mask frame ``frame`` lies on."""
    if len(source) == 1 and int(getattr(source[0], "NumberOfFrames", 1) or 1) > 1:
        ds = source[0]
        return hd.sr.SourceImageForRegion(ds.SOPClassUID, ds.SOPInstanceUID,
                                          referenced_frame_numbers=[frame + 1])
    ds = source[frame]
    return hd.sr.SourceImageForRegion(ds.SOPClassUID, ds.SOPInstanceUID)


def build_sr(source: Sequence[pydicom.Dataset], seg: hd.seg.Segmentation, info: ReportInputs,
             templates: Templates, uids: ResultUids, outline: Outline, *, mark_final: bool = False,
             headline_text: str | None = None) -> hd.sr.Comprehensive3DSR:
    """TID 1500 report about ``seg`` (segment 1) of the ``source`` series, outlined on
    mask frame ``outline.frame``."""
    t = templates.sr
    code = templates.code
    algo = _algorithm(info, templates)

    p_alt = hd.sr.Measurement(name=code(t.alt_probability), value=round(100 * info.alt_probability, 2),
                              unit=code(t.alt_probability_unit), algorithm_id=algo)
    size = [
        hd.sr.Measurement(name=code(t.volume), value=round(info.volume_ml, 1),
                          unit=code(t.volume_unit), algorithm_id=algo),
        *([hd.sr.Measurement(name=code(t.diameter), value=round(info.diameter_mm, 1),
                             unit=code(t.diameter_unit), algorithm_id=algo)]
          if info.diameter_mm is not None else []),
    ]

    def predicted_class() -> hd.sr.QualitativeEvaluation:
        return _qualitative(code(t.predicted_class), code(t.classes[info.label.value]), algo)

    evaluations = [
        predicted_class(),
        _qualitative(code(t.qc_status), code(t.qc_values[info.qc_status.value]), algo),
        _qualitative(code(t.segmentation_method),
                     code(t.segmentation_method_values[info.seg_method.value]), algo),
        _qualitative(code(t.ood_flag), code(t.yes if info.ood else t.no), algo),
    ]
    if info.series_selection == "manual":  # the reviewer, not the rules, chose the source series
        evaluations.append(_qualitative(code(t.series_selection),
                                        code(t.series_selection_values["manual"]), algo))
    region = anatomic_region(source, templates)
    sites = [hd.sr.FindingSite(region)] if region is not None else None

    def tracking() -> hd.sr.TrackingIdentifier:  # the SEG segment's too (uids.tracking)
        return hd.sr.TrackingIdentifier(uid=uids.tracking, identifier=t.tracking_identifier)

    planar = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking(),
        referenced_region=hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=outline.points,
            source_image=source_image_for(source, outline.frame)),
        finding_type=code(t.finding_type),
        finding_category=code(t.finding_category),
        algorithm_id=algo,
        measurements=[p_alt],
        qualitative_evaluations=[predicted_class()],
    )
    volumetric = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking(),
        referenced_segment=hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, segment_number=1,
            source_series=hd.sr.SourceSeriesForSegmentation(source[0].SeriesInstanceUID)),
        finding_type=code(t.finding_type),
        finding_category=code(t.finding_category),
        algorithm_id=algo,
        finding_sites=sites,
        measurements=size,
        qualitative_evaluations=evaluations,
    )
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(templates),
        procedure_reported=code(t.procedure_reported),
        imaging_measurements=[planar, volumetric],
    )
    previous = None
    if info.amended_from is not None:
        prev = pydicom.Dataset()
        prev.SOPClassUID = COMPREHENSIVE_3D_SR
        prev.SOPInstanceUID = info.amended_from.sr_uid
        prev.StudyInstanceUID = info.amended_from.study_uid
        prev.SeriesInstanceUID = info.amended_from.sr_series_uid
        previous = [prev]
    text = headline_text if headline_text is not None else headline(info, templates)
    try:
        sr = hd.sr.Comprehensive3DSR(
            evidence=[*source, seg],
            content=report,
            series_instance_uid=uids.sr_series,
            series_number=templates.descriptions.sr_series_number,
            sop_instance_uid=uids.sr_instance,
            instance_number=1,
            manufacturer=templates.equipment.manufacturer,
            is_complete=True,
            is_final=mark_final,
            is_verified=False,
            institution_name=templates.equipment.institution_name,
            previous_versions=previous,
            contributing_equipment=[contributing_equipment(templates, info)],
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ReportError(f"highdicom refused the SR: {exc}") from exc
    sr.SeriesDescription = templates.descriptions.sr_series.format(headline=text)[:64]
    sr.CodingSchemeIdentificationSequence = [_private_scheme(templates)]
    return sr


def _private_scheme(tpl: Templates) -> pydicom.Dataset:
    """Identify the private coding scheme (PS3.3 C.12.1.1.2.1 Coding Scheme Identification)."""
    ps = tpl.private_scheme
    item = pydicom.Dataset()
    item.CodingSchemeDesignator = ps.designator
    item.CodingSchemeName = ps.name
    item.CodingSchemeVersion = ps.version
    item.CodingSchemeResponsibleOrganization = ps.responsible_organization
    return item
