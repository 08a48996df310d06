"""Key image: a Secondary Capture (PS3.3 A.8.1) every PACS viewer can show.

Not every viewer renders SEG or TID 1500 SR; every viewer renders an RGB image. The key
image is the T1 slice where the tumour is largest, the outline the SR draws, and the result
in text, burned in (Burned In Annotation YES), below the image: OHIF's cine bar and most
viewers' overlays cover the top edge. Built with highdicom (``SCImage.from_ref_dataset``, which
copies patient and study from the T1 image); Patient Orientation is taken from the slice so a
reader knows which way is anterior.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont

from node.errors import ReportError
from node.report.inputs import ReportInputs
from node.report.outline import Outline
from node.report.seg import contributing_equipment, software_versions
from node.report.templates import Templates
from node.report.uids import ResultUids

MIN_SIDE_PX = 512  # small matrices are enlarged (nearest neighbour) so the text stays legible
_AXES = (("L", "R"), ("P", "A"), ("H", "F"))  # +x, +y, +z of the patient system (PS3.3 C.7.6.1.1.1)


def patient_orientation(iop: Sequence[float]) -> tuple[str, str]:
    """Patient Orientation (0020,0020) of rows and columns from Image Orientation (Patient):
    letters of every patient axis with a component of at least 0.25, strongest first."""

    def letters(v: np.ndarray) -> str:
        order = np.argsort(-np.abs(v))
        out = "".join(_AXES[i][0 if v[i] > 0 else 1] for i in order if abs(v[i]) >= 0.25)
        return out or _AXES[int(order[0])][0 if v[order[0]] > 0 else 1]

    d = np.asarray([float(x) for x in iop])
    return letters(d[:3]), letters(d[3:])


def source_laterality(ds: pydicom.Dataset) -> str:
    """R or L from the series (Laterality) or, for enhanced MR, the Frame Anatomy Sequence."""
    value = str(ds.get("Laterality", "") or "")
    if not value:
        for groups in (ds.get("SharedFunctionalGroupsSequence"), ds.get("PerFrameFunctionalGroupsSequence")):
            anatomy = groups[0].get("FrameAnatomySequence") if groups else None
            if anatomy:
                value = str(anatomy[0].get("FrameLaterality", "") or "")
                break
    return value if value in ("R", "L") else ""


def slice_pixels(source: Sequence[pydicom.Dataset], frame: int) -> tuple[pydicom.Dataset, np.ndarray]:
    """The dataset and 2D stored pixels of mask frame ``frame`` (order of :mod:`.seg`)."""
    if len(source) == 1 and int(getattr(source[0], "NumberOfFrames", 1) or 1) > 1:
        return source[0], np.asarray(source[0].pixel_array[frame])
    return source[frame], np.asarray(source[frame].pixel_array)


def _greyscale(pixels: np.ndarray) -> np.ndarray:
    """8-bit display values, windowed on the slice's 1st-99.5th percentile (no VOI LUT needed)."""
    lo, hi = np.percentile(pixels.astype(np.float64), [1.0, 99.5])
    scaled = (pixels.astype(np.float64) - lo) / max(hi - lo, 1e-6)
    return (np.clip(scaled, 0.0, 1.0) * 255).round().astype(np.uint8)


def render(pixels: np.ndarray, outline: Outline, lines: Sequence[str],
           colour: tuple[int, int, int]) -> np.ndarray:
    """RGB (H, W, 3) uint8: the enlarged slice, the outline, then a black band with ``lines``."""
    rows, cols = pixels.shape
    scale = max(1, int(np.ceil(MIN_SIDE_PX / max(rows, cols))))
    width = cols * scale
    font_px = max(14, width // 36)
    font = ImageFont.load_default(size=font_px)
    band = len(lines) * (font_px + 8) + 12
    canvas = Image.new("RGB", (width, rows * scale + band), (0, 0, 0))
    canvas.paste(Image.fromarray(_greyscale(pixels)).convert("RGB").resize(
        (width, rows * scale), Image.Resampling.NEAREST), (0, 0))
    draw = ImageDraw.Draw(canvas)
    pts = [(float(c) * scale, float(r) * scale) for c, r in outline.points]
    draw.line(pts, fill=colour, width=max(2, scale // 2), joint="curve")
    y = rows * scale + 6
    for text in lines:
        draw.text((8, y), text, fill=(255, 255, 255), font=font)
        y += font_px + 8
    return np.asarray(canvas, dtype=np.uint8)


def key_image_lines(info: ReportInputs, headline: str) -> list[str]:
    size = f"Volume {info.volume_ml:.1f} mL"
    if info.diameter_mm is not None:
        size += f", longest axial diameter {info.diameter_mm:.1f} mm"
    return [headline, size, "lipo-node decision support - research use, not for diagnosis"]


def build_key_image(source: Sequence[pydicom.Dataset], outline: Outline, info: ReportInputs,
                    templates: Templates, uids: ResultUids, headline: str) -> hd.sc.SCImage:
    """The Secondary Capture for the slice ``outline.frame`` of ``source``."""
    ref, pixels = slice_pixels(source, outline.frame)
    if pixels.ndim != 2:
        raise ReportError(f"key image: slice {outline.frame} is not a 2D greyscale image")
    rgb = render(pixels, outline, key_image_lines(info, headline),
                 templates.segment.display_color_rgb)
    iop = getattr(ref, "ImageOrientationPatient", None)
    if iop is None:  # enhanced MR: in the shared or per-frame functional groups
        groups = ref.get("SharedFunctionalGroupsSequence") or ref.PerFrameFunctionalGroupsSequence
        iop = groups[0].PlaneOrientationSequence[0].ImageOrientationPatient
    eq = templates.equipment
    try:
        sc = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=ref,
            pixel_array=rgb,
            photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
            bits_allocated=8,
            coordinate_system=hd.CoordinateSystemNames.PATIENT,
            series_instance_uid=uids.key_image_series,
            series_number=templates.descriptions.key_image_series_number,
            sop_instance_uid=uids.key_image_instance,
            instance_number=1,
            manufacturer=eq.manufacturer,
            patient_orientation=patient_orientation(iop),
            transfer_syntax_uid=pydicom.uid.ExplicitVRLittleEndian,
            contributing_equipment=[contributing_equipment(templates, info)],
            series_description=templates.descriptions.key_image_series.format(headline=headline)[:64],
            manufacturer_model_name=eq.model_name,
            software_versions=software_versions(info),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ReportError(f"highdicom refused the key image: {exc}") from exc
    sc.BurnedInAnnotation = "YES"
    # General Series Laterality is Type 2C (paired body parts): as the source states it,
    # with the body part that decides whether it is needed
    if ref.get("BodyPartExamined"):
        sc.BodyPartExamined = ref.BodyPartExamined
    laterality = source_laterality(ref)
    if laterality or "Laterality" in ref:
        sc.Laterality = laterality
    sc.ImageType = ["DERIVED", "SECONDARY"]
    return sc
