"""The "result pending review" object: what the PACS gets when QC sends a case to a clinician.

Issue 14's safety rule: P(ALT) is delivered only for a mask that passed QC or that a reviewer
accepted. A case routed to review would otherwise be silent in the PACS, so the radiologist
gets a short notice that a result is coming — and nothing else: no mask, no volume, no P(ALT).

Two forms (``qc.pending_notice`` in config.yaml):

- ``sr``: Comprehensive SR (PS3.3 A.35.3), PARTIAL / UNVERIFIED, a root CONTAINER
  (18748-4, LN, "Diagnostic imaging report") with one TEXT item (121106, DCM, "Comment")
  saying the result is pending review and why; evidence = the selected series.
- ``sc``: Secondary Capture Image (PS3.3 A.8.1) with the same text rendered into an 8-bit
  MONOCHROME2 image, for viewers that do not show SRs.

Both are built with highdicom, in the source study, with deterministic UIDs over (source
series, job, reasons), so re-running the QC stage re-sends the same instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from node.errors import ReportError

PENDING_SERIES_NUMBER = 9901
TITLE = "RESULT PENDING REVIEW"
MANUFACTURER = "lipo-node"


class PendingKind(StrEnum):
    SR = "sr"
    SC = "sc"
    OFF = "off"


def pending_text(reason_codes: Sequence[str]) -> str:
    """The notice's text (also the series description's source)."""
    why = ", ".join(reason_codes) if reason_codes else "quality control"
    return (f"{TITLE}: the automatic tumour segmentation did not pass quality control "
            f"({why}). A clinician will review it; the segmentation and P(ALT) will follow. "
            "Do not act on any earlier automatic result for this series.")


def pending_uids(source_series_uid: str, job_id: str, kind: PendingKind,
                 reason_codes: Sequence[str]) -> tuple[str, str]:
    base = [source_series_uid, job_id, kind.value, *sorted(reason_codes)]
    return (str(generate_uid(entropy_srcs=[*base, "pending-series"])),
            str(generate_uid(entropy_srcs=[*base, "pending-instance"])))


def build_pending_sr(source: Sequence[pydicom.Dataset], job_id: str,
                     reason_codes: Sequence[str]) -> hd.sr.ComprehensiveSR:
    if not source:
        raise ReportError("pending-review SR needs the source series")
    series_uid, sop_uid = pending_uids(source[0].SeriesInstanceUID, job_id, PendingKind.SR, reason_codes)
    text = pending_text(reason_codes)
    root = hd.sr.ContainerContentItem(
        name=Code("18748-4", "LN", "Diagnostic imaging report"),
        template_id=None,
    )
    root.ContentSequence = pydicom.Sequence([
        hd.sr.TextContentItem(name=Code("121106", "DCM", "Comment"), value=text[:1024],
                              relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
    ])
    sr = hd.sr.ComprehensiveSR(
        evidence=list(source),
        content=root,
        series_instance_uid=series_uid,
        series_number=PENDING_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=False,
        is_final=False,
        is_verified=False,
        series_description=TITLE,
    )
    return sr


def _render_text(text: str, width: int = 512, height: int = 256) -> np.ndarray:
    """``text`` in white on black (8-bit), wrapped; matplotlib's Agg canvas, no display."""
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="black")
    canvas = FigureCanvasAgg(fig)
    fig.text(0.5, 0.85, TITLE, color="white", ha="center", va="top", fontsize=16, weight="bold")
    body = textwrap.fill(text[len(TITLE) + 2:], 60)
    fig.text(0.04, 0.62, body, color="white", ha="left", va="top", fontsize=9)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., 0])


def build_pending_sc(source: Sequence[pydicom.Dataset], job_id: str,
                     reason_codes: Sequence[str]) -> hd.sc.SCImage:
    if not source:
        raise ReportError("pending-review SC needs the source series")
    series_uid, sop_uid = pending_uids(source[0].SeriesInstanceUID, job_id, PendingKind.SC, reason_codes)
    pixels = _render_text(pending_text(reason_codes))
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source[0],
        pixel_array=pixels,
        photometric_interpretation=hd.PhotometricInterpretationValues.MONOCHROME2,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        patient_orientation=("L", "P"),  # a notice, not anatomy; required for PATIENT
        series_instance_uid=series_uid,
        series_number=PENDING_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description=TITLE,
    )
    if "Laterality" not in sc:  # Type 2C (General Series) for paired body parts: empty = unknown
        sc.Laterality = source[0].get("Laterality", None)
    return sc


def build_pending(kind: PendingKind | str, source: Sequence[pydicom.Dataset], job_id: str,
                  reason_codes: Sequence[str]) -> pydicom.Dataset:
    kind = PendingKind(kind)
    if kind is PendingKind.SR:
        return build_pending_sr(source, job_id, reason_codes)
    if kind is PendingKind.SC:
        return build_pending_sc(source, job_id, reason_codes)
    raise ValueError("pending notice is off")
