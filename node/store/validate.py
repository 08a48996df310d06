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
from pydicom.datadict import dictionary_VM, dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import FileMetaDataset
from pydicom.pixels import pixel_array
from pydicom.pixels.utils import get_expected_length
from pydicom.tag import Tag
from pydicom.uid import UID, MRSpectroscopyStorage, RawDataStorage
from pydicom.valuerep import VR

from node.store.errors import BadPixelData, MissingUid, UndecodableDataset

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: storage SOP classes whose IOD has no Image Pixel Module
_NON_IMAGE_CLASSES = {str(MRSpectroscopyStorage), str(RawDataStorage)}
#: VRs whose value is one byte string whatever its length (VM is always 1)
_BULK_VRS = {VR.OB, VR.OW, VR.OD, VR.OF, VR.OL, VR.OV, VR.UN, VR.UT, VR.LT, VR.ST, VR.UR}
UNDEFINED_LENGTH = 0xFFFFFFFF


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


def _check_element(elem: DataElement, raw: RawDataElement | None) -> None:
    """One element against its declared length and the data dictionary (PS3.6).

    Messages name the tag only, never the value: a value may be a patient's name."""
    tag = Tag(elem.tag)
    if raw is not None and raw.value is not None and raw.length != UNDEFINED_LENGTH \
            and len(raw.value) != raw.length:
        error = BadPixelData if elem.keyword in _PIXEL_KEYWORDS else UndecodableDataset
        raise error(f"{tag} declares {raw.length} bytes, {len(raw.value)} present")
    if tag.is_private or tag.element == 0 or elem.VR == VR.UN:
        return
    try:
        dict_vr, dict_vm = dictionary_VR(tag), dictionary_VM(tag)
    except KeyError:
        return
    # an element built in memory keeps the dictionary's ambiguous VR ("OB or OW") as is
    if dict_vr != elem.VR and elem.VR not in {v.strip() for v in dict_vr.split(" or ")}:
        raise UndecodableDataset(f"{tag} has VR {elem.VR}, the data dictionary says {dict_vr}")
    if dict_vm == "1" and elem.VR not in _BULK_VRS and elem.VM > 1:
        raise UndecodableDataset(f"{tag} has {elem.VM} values, the data dictionary allows 1")


def _walk(ds: pydicom.Dataset, depth: int = 0) -> None:
    if depth > 16:  # PS3.5 sets no limit, but nothing real nests this deep
        raise UndecodableDataset("sequences nested deeper than 16 levels")
    for tag in list(ds.keys()):
        raw = ds._dict.get(tag)
        elem = ds[tag]  # converts a raw element (may raise on a lying header)
        _check_element(elem, raw if isinstance(raw, RawDataElement) else None)
        if elem.VR == VR.SQ:
            for item in elem.value:
                _walk(item, depth + 1)


def _decode_elements(ds: pydicom.Dataset) -> None:
    """Convert and check every element (recursing into sequences) so a lying header fails
    here: a wrong length, a VR or multiplicity the data dictionary does not allow."""
    try:
        _walk(ds)
    except (UndecodableDataset, BadPixelData):
        raise
    except Exception as exc:  # pydicom raises many types for corrupt streams
        # the exception text can quote the value (a patient's name): only its type is kept
        raise UndecodableDataset(f"data set does not parse: {type(exc).__name__}") from exc


def _positive(ds: pydicom.Dataset, keyword: str, allowed: tuple[int, ...] | None = None) -> int:
    value = ds.get(keyword)
    if not isinstance(value, int) or value < 1 or (allowed is not None and value not in allowed):
        raise BadPixelData(f"{keyword} is missing or not an allowed value (PS3.3 C.7.6.3)")
    return value


def _check_pixel_module(ds: pydicom.Dataset, sop_class_uid: str) -> None:
    """The Image Pixel Module attributes a decoder relies on (PS3.3 C.7.6.3): an image SOP
    class must carry pixel data, and its description must be one a reader can follow."""
    has_pixels = any(kw in ds for kw in _PIXEL_KEYWORDS)
    if not has_pixels:
        if sop_class_uid in _NON_IMAGE_CLASSES:
            return
        raise BadPixelData("image SOP class without pixel data")
    _positive(ds, "Rows")
    _positive(ds, "Columns")
    _positive(ds, "SamplesPerPixel", (1, 3, 4))
    if "NumberOfFrames" in ds:
        frames = ds.NumberOfFrames
        try:
            ok = int(frames) >= 1
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise BadPixelData("NumberOfFrames is not a positive integer")
    if "PixelData" not in ds:
        return
    allocated = _positive(ds, "BitsAllocated", (1, 8, 16, 32, 64))
    stored = _positive(ds, "BitsStored")
    if stored > allocated or not isinstance(ds.get("HighBit"), int) or ds.HighBit >= allocated:
        raise BadPixelData("BitsStored/HighBit do not fit BitsAllocated")
    if ds.get("PixelRepresentation") not in (0, 1):
        raise BadPixelData("PixelRepresentation is not 0 or 1")
    if not str(ds.get("PhotometricInterpretation", "")).strip():
        raise BadPixelData("PhotometricInterpretation is missing")


def _decode_pixels(ds: pydicom.Dataset, transfer_syntax: str | None) -> None:
    """Native (uncompressed) pixel data must hold at least Rows x Columns x Frames x Samples x
    BitsAllocated bits (PS3.5 8.1.1), which is all a native decode checks; encapsulated pixel
    data is decoded frame by frame with the installed plugins."""
    if not any(kw in ds for kw in _PIXEL_KEYWORDS):
        return
    try:
        ts = UID(transfer_syntax or ds.file_meta.TransferSyntaxUID)
        if "PixelData" in ds and not ts.is_compressed:
            expected = get_expected_length(ds, unit="bytes")
            # PS3.5 8.1.1: exactly the frames, plus one pad byte to an even length
            if not expected <= len(ds.PixelData) <= expected + 1:
                raise ValueError(f"{len(ds.PixelData)} bytes of native pixel data, {expected} expected")
            return
        if ds.get("file_meta") is None or "TransferSyntaxUID" not in ds.file_meta:
            ds.file_meta = FileMetaDataset()  # a received data set: its decoders read it here
            ds.file_meta.TransferSyntaxUID = ts
        # the array is not cached on ``ds``: only the check is needed, not the pixels
        pixel_array(ds, raw=True)
    except Exception as exc:  # decoder plugins raise ValueError/RuntimeError/...
        detail = str(exc) if isinstance(exc, ValueError) and "pixel data, " in str(exc) else ""
        raise BadPixelData(f"pixel data does not decode: {type(exc).__name__} {detail}".strip()) \
            from exc


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
    _check_pixel_module(ds, keys.sop_class_uid)
    _decode_pixels(ds, transfer_syntax)
    return keys
