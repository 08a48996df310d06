"""Enhanced MR Image Storage (PS3.3 A.36.2, SOP Class 1.2.840.10008.5.1.4.1.1.4.1): one
multi-frame file per series.

highdicom's ``LegacyConvertedEnhancedMRImage`` writes the *Legacy Converted* Enhanced MR SOP
Class (1.2.840.10008.5.1.4.1.1.4.4), not this one, so the object is built here with pydicom.
Modules: Enhanced MR Image (C.8.13.1), MR Pulse Sequence (C.8.13.4), Multi-frame Functional
Groups (C.7.6.16) with the MR functional group macros of C.8.13.5 in the shared group (the
geometry is the same for every frame of a stack) and Frame Content + Plane Position (+ Plane
Orientation when stacks differ, as in a 3-plane localizer) per frame, Multi-frame Dimension
(C.7.6.17: StackID, InStackPositionNumber), Acquisition Context, Enhanced Contrast/Bolus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import EnhancedMRImageStorage

from node.synthetic.dicom_classic import _ds, common, file_meta, pixel_module, series_time
from node.synthetic.series import SeriesData, StudyContext, uid
from node.synthetic.vendors import Role

_REGION = {  # SNOMED CT anatomic region (CID 4031)
    "THIGH": ("68367000", "Thigh"),
    "ARM": ("40983000", "Upper arm"),
    "CHEST": ("22943007", "Trunk"),
    "NECK": ("45048000", "Neck"),
    "PELVIS": ("12921003", "Pelvis"),
    "LEG": ("30021000", "Lower leg"),
}


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
    return c


def _item(**kw: object) -> Sequence:
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return Sequence([d])


def frame_type(s: SeriesData) -> list[str]:
    if s.derived:
        return ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]  # value 2 is PRIMARY only (C.8.13.1.1.1)
    flavor = {Role.localizer: "LOCALIZER", Role.t1_fs_post: "POST_CONTRAST"}.get(s.role, "VOLUME")
    extra = s.naming.image_type_extra
    if s.role.value.startswith(("dixon", "fieldmap", "mprage", "subtraction")) and extra:
        tail = list(extra[:2]) if len(extra) > 1 else [extra[0], "NONE"]
        return ["ORIGINAL", "PRIMARY", *tail]
    return ["ORIGINAL", "PRIMARY", flavor, "NONE"]


def _shared(s: SeriesData, ctx: StudyContext, same_orientation: bool) -> Dataset:
    p, f0 = s.protocol, s.frames[0]
    g = Dataset()
    g.PixelMeasuresSequence = _item(
        PixelSpacing=[_ds(v) for v in f0.pixel_spacing],
        SliceThickness=_ds(f0.thickness),
        SpacingBetweenSlices=_ds(f0.spacing_between),
    )
    if same_orientation:
        g.PlaneOrientationSequence = _item(ImageOrientationPatient=[_ds(v, 8) for v in f0.iop])
    g.FrameAnatomySequence = _item(
        AnatomicRegionSequence=Sequence([_region(ctx.body_part)]), FrameLaterality=ctx.laterality or "U"
    )
    g.PixelValueTransformationSequence = _item(RescaleIntercept="0", RescaleSlope="1", RescaleType="US")
    g.FrameVOILUTSequence = _item(WindowCenter=_ds(s.window[0], 0), WindowWidth=_ds(max(s.window[1], 1.0), 0))
    g.MRImageFrameTypeSequence = _item(
        FrameType=frame_type(s),
        PixelPresentation="MONOCHROME",
        VolumetricProperties="SAMPLED" if s.derived else "VOLUME",
        VolumeBasedCalculationTechnique="MPR" if s.derived else "NONE",
        ComplexImageComponent=s.complex_component,
        AcquisitionContrast=s.acquisition_contrast,
    )
    if s.contrast_agent:
        g.ContrastBolusUsageSequence = _item(
            ContrastBolusAgentNumber=1, ContrastBolusAgentAdministered="YES", ContrastBolusAgentDetected="NO"
        )
    if s.derived:
        return g
    rows, cols = f0.pixels.shape
    g.MRTimingAndRelatedParametersSequence = _item(
        RepetitionTime=_ds(p.tr, 2),
        FlipAngle=_ds(p.flip_deg, 1),
        EchoTrainLength=p.echo_train,
        RFEchoTrainLength=p.echo_train,
        GradientEchoTrainLength=0,
        SpecificAbsorptionRateSequence=_item(
            SpecificAbsorptionRateDefinition="IEC_WHOLE_BODY", SpecificAbsorptionRateValue=0.8
        ),
        OperatingModeSequence=_item(OperatingModeType="STATIC FIELD", OperatingMode="IEC_NORMAL"),
    )
    g.MRFOVGeometrySequence = _item(
        InPlanePhaseEncodingDirection="ROW" if s.phase_dir == "ROW" else "COLUMN",
        MRAcquisitionFrequencyEncodingSteps=cols,
        MRAcquisitionPhaseEncodingStepsInPlane=rows,
        PercentSampling="100",
        PercentPhaseFieldOfView="100",
    )
    if s.frame_te is None:  # else per frame (multi-echo)
        g.MREchoSequence = _item(EffectiveEchoTime=round(p.te, 3))
    modifier = dict(
        InversionRecovery="YES" if p.ti is not None else "NO",
        FlowCompensation="NONE",
        T2Preparation="NO",
        SpectrallySelectedExcitation="NONE",
        SpatialPresaturation="NONE",
        PartialFourier="NO",
        ParallelAcquisition="NO",
    )
    if p.ti is not None:
        modifier["InversionTimes"] = [round(p.ti, 2)]
    g.MRModifierSequence = _item(**modifier)
    g.MRImagingModifierSequence = _item(
        MagnetizationTransfer="NONE",
        BloodSignalNulling="NO",
        Tagging="NONE",
        TransmitterFrequency=42.577478 * ctx.field_t,
        PixelBandwidth="200",
    )
    g.MRReceiveCoilSequence = _item(
        ReceiveCoilName="Flex Large" if ctx.body_part != "CHEST" else "Body 18",
        ReceiveCoilManufacturerName=ctx.manufacturer,
        ReceiveCoilType="SURFACE",
        QuadratureReceiveCoil="NO",
    )
    g.MRTransmitCoilSequence = _item(
        TransmitCoilName="Body", TransmitCoilManufacturerName=ctx.manufacturer, TransmitCoilType="BODY"
    )
    g.MRAveragesSequence = _item(NumberOfAverages="1")
    g.MRSpatialSaturationSequence = Sequence()
    return g


def _region(body_part: str) -> Dataset:
    value, meaning = _REGION.get(body_part, ("38266002", "Entire body"))
    return _code(value, "SCT", meaning)


def _stacks(s: SeriesData) -> list[tuple[int, int]]:
    """(StackID, InStackPositionNumber) per frame: a new stack whenever the orientation changes."""
    out, stack, pos, last = [], 0, 0, None
    for f in s.frames:
        if f.iop != last:
            stack, pos, last = stack + 1, 0, f.iop
        pos += 1
        out.append((stack, pos))
    return out


def write_enhanced(s: SeriesData, ctx: StudyContext, folder: Path) -> list[Path]:
    """One multi-frame file ``folder/MF0001.dcm``."""
    folder.mkdir(parents=True, exist_ok=True)
    sop = uid(ctx.seed, s.uid, "enhanced")
    ds = Dataset()
    ds.file_meta = file_meta(EnhancedMRImageStorage, sop)
    ds.SOPClassUID = EnhancedMRImageStorage
    ds.SOPInstanceUID = sop
    common(ds, ctx, s)
    if "Laterality" in ds:  # Enhanced IODs carry FrameLaterality in Frame Anatomy instead
        del ds.Laterality
    ds.ImageType = frame_type(s)
    ds.InstanceNumber = 1
    ds.ContentDate = ctx.study_date
    ds.ContentTime = series_time(ctx, s)
    ds.AcquisitionDateTime = ctx.study_date + series_time(ctx, s)
    ds.AcquisitionDuration = 180.0
    ds.PixelPresentation = "MONOCHROME"
    ds.VolumetricProperties = "SAMPLED" if s.derived else "VOLUME"
    ds.VolumeBasedCalculationTechnique = "MPR" if s.derived else "NONE"
    ds.ComplexImageComponent = s.complex_component
    ds.AcquisitionContrast = s.acquisition_contrast
    ds.ContentQualification = "PRODUCT"
    ds.ResonantNucleus = "1H"
    ds.KSpaceFiltering = "NONE"
    ds.ApplicableSafetyStandardAgency = "IEC"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY"
    if not s.derived:
        _pulse_sequence(ds, s)
    if s.contrast_agent:
        agent = _code(s.contrast_agent.upper(), "99LIPO", s.contrast_agent)
        agent.ContrastBolusAgentNumber = 1
        agent.ContrastBolusAdministrationRouteSequence = Sequence(
            [_code("47625008", "SCT", "Intravenous route")]
        )
        agent.ContrastBolusIngredientCodeSequence = Sequence([_code("C-17800", "SRT", "Gadolinium")])
        agent.ContrastBolusVolume = 15.0
        agent.ContrastBolusIngredientConcentration = 604.72  # mg/ml, 1.0 mmol/ml gadobutrol
        ds.ContrastBolusAgentSequence = Sequence([agent])
    ds.AcquisitionContextSequence = Sequence()
    iops = {f.iop for f in s.frames}
    ds.SharedFunctionalGroupsSequence = Sequence([_shared(s, ctx, len(iops) == 1)])
    stacks = _stacks(s)
    t0 = ctx.study_date + series_time(ctx, s)
    per_frame = []
    for f, (stack, pos) in zip(s.frames, stacks, strict=True):
        fg = Dataset()
        fg.FrameContentSequence = _item(
            FrameAcquisitionDateTime=t0,
            FrameReferenceDateTime=t0,
            FrameAcquisitionDuration=180.0,
            StackID=str(stack),
            InStackPositionNumber=pos,
            DimensionIndexValues=[stack, pos],
        )
        fg.PlanePositionSequence = _item(ImagePositionPatient=[_ds(v) for v in f.ipp])
        if len(iops) > 1:
            fg.PlaneOrientationSequence = _item(ImageOrientationPatient=[_ds(v, 8) for v in f.iop])
        if s.frame_te is not None:
            fg.MREchoSequence = _item(EffectiveEchoTime=round(s.frame_te[len(per_frame)], 3))
        per_frame.append(fg)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.NumberOfFrames = len(s.frames)
    dim_uid = uid(ctx.seed, s.uid, "dimension")
    ds.DimensionOrganizationSequence = _item(DimensionOrganizationUID=dim_uid)
    ds.DimensionOrganizationType = "3D" if len(iops) == 1 else ""
    dims = []
    for ptr in (0x00209056, 0x00209057):  # StackID, InStackPositionNumber
        d = Dataset()
        d.DimensionOrganizationUID = dim_uid
        d.DimensionIndexPointer = ptr
        d.FunctionalGroupPointer = 0x00209111  # FrameContentSequence
        dims.append(d)
    ds.DimensionIndexSequence = Sequence(dims)
    pixel_module(ds, *s.frames[0].pixels.shape)
    ds.PixelData = np.ascontiguousarray(np.stack([f.pixels for f in s.frames]), dtype=np.uint16).tobytes()
    path = folder / "MF0001.dcm"
    ds.save_as(path, enforce_file_format=True)
    return [path]


def _pulse_sequence(ds: Dataset, s: SeriesData) -> None:
    """MR Pulse Sequence Module (PS3.3 C.8.13.4)."""
    gre = "GR" in s.naming.scanning_sequence.split("\\")
    ds.PulseSequenceName = s.naming.sequence_name.lstrip("*")[:16] or "SE"
    ds.MRAcquisitionType = "3D" if s.protocol.three_d else "2D"
    ds.EchoPulseSequence = "GRADIENT" if gre else "SPIN"
    if not gre:
        ds.MultipleSpinEcho = "NO"
    ds.MultiPlanarExcitation = "NO"
    ds.PhaseContrast = "NO"
    ds.TimeOfFlightContrast = "NO"
    ds.SteadyStatePulseSequence = "NONE"
    ds.EchoPlanarPulseSequence = "NO"
    ds.SaturationRecovery = "NO"
    ds.SpectrallySelectedSuppression = "FAT" if s.protocol.fat_sat else "NONE"
    ds.OversamplingPhase = "NONE"
    ds.GeometryOfKSpaceTraversal = "RECTILINEAR"
    ds.RectilinearPhaseEncodeReordering = "LINEAR"
    ds.SegmentedKSpaceTraversal = "PARTIAL" if s.protocol.echo_train > 1 else "SINGLE"
    ds.NumberOfKSpaceTrajectories = 1
