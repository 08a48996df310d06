"""Decode-before-acknowledge checks for an incoming instance.

A C-STORE is answered Success only for an object the node can use later: every element parses
with the stated transfer syntax, the four identifying UIDs are present and valid, and pixel
data (if any) decodes to the size its header promises. Anything else is a named
:class:`~node.errors.InvalidInstance` subclass that maps to a PS3.4 B.2.3 "Cannot understand"
status, so a malformed object never reaches the spool or poisons its study.
"""

from __future__ import annotations

from dataclasses import dataclass

import pydicom
from pydicom.pixels import pixel_array
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import UID

from node.store.errors import BadPixelData, MissingUid, UndecodableDataset

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass(frozen=True)
class InstanceKeys:
    """The UIDs that place an instance in the study/series hierarchy (PS3.3 C.12.1, C.7.2)."""

    sop_instance_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str


def _uid(ds: pydicom.Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    text = str(value).strip() if value is not None else ""
    if not text:
        raise MissingUid(f"{keyword} is missing or empty")
    if not UID(text).is_valid:
        raise MissingUid(f"{keyword} is not a valid UID (PS3.5 9.1)")
    return text


def _decode_elements(ds: pydicom.Dataset) -> None:
    """Convert every raw element (recursing into sequences) so a lying header fails here."""
    try:
        for _ in ds.iterall():
            pass
    except Exception as exc:  # pydicom raises many types for corrupt streams
        raise UndecodableDataset(f"data set does not parse: {type(exc).__name__}: {exc}") from exc


def _decode_pixels(ds: pydicom.Dataset) -> None:
    """Native (uncompressed) pixel data must hold at least Rows x Columns x Frames x Samples x
    BitsAllocated bits (PS3.5 8.1.1), which is all a native decode checks; encapsulated pixel
    data is decoded frame by frame with the installed plugins."""
    if not any(kw in ds for kw in _PIXEL_KEYWORDS):
        return
    try:
        ts = UID(ds.file_meta.TransferSyntaxUID)
        if "PixelData" in ds and not ts.is_compressed:
            expected = get_expected_length(ds, unit="bytes")
            if len(ds.PixelData) < expected:
                raise ValueError(f"{len(ds.PixelData)} bytes of native pixel data, {expected} expected")
            return
        # the array is not cached on ``ds``: only the check is needed, not the pixels
        pixel_array(ds, raw=True)
    except Exception as exc:  # decoder plugins raise ValueError/RuntimeError/...
        raise BadPixelData(f"pixel data does not decode: {type(exc).__name__}: {exc}") from exc


def _check_encoding(ds: pydicom.Dataset, transfer_syntax: str) -> None:
    """The data set must be encoded as its transfer syntax says (PS3.5 10). pydicom silently
    falls back to the other VR mode; a file stored with such a lying header would break
    stricter readers later, so it is refused instead."""
    implicit, little = ds.original_encoding
    if implicit is None:  # built in memory, not parsed: nothing to compare
        return
    ts = UID(transfer_syntax)
    if not ts.is_transfer_syntax:
        raise UndecodableDataset(f"{transfer_syntax} is not a transfer syntax UID")
    if (implicit, little) != (ts.is_implicit_VR, ts.is_little_endian):
        found = f"{'implicit' if implicit else 'explicit'} VR {'little' if little else 'big'} endian"
        raise UndecodableDataset(f"data set is encoded as {found}, not as {ts.name}")


def check_instance(ds: pydicom.Dataset, transfer_syntax: str | None = None) -> InstanceKeys:
    """Decode ``ds`` fully and return its keys; raises an ``InvalidInstance`` subclass.

    With ``transfer_syntax`` (the negotiated one, or the file's), the encoding actually found
    while parsing must match it.
    """
    _decode_elements(ds)
    if transfer_syntax is not None:
        _check_encoding(ds, transfer_syntax)
    keys = InstanceKeys(
        sop_instance_uid=_uid(ds, "SOPInstanceUID"),
        sop_class_uid=_uid(ds, "SOPClassUID"),
        study_uid=_uid(ds, "StudyInstanceUID"),
        series_uid=_uid(ds, "SeriesInstanceUID"),
    )
    _decode_pixels(ds)
    return keys
