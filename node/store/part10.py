"""The DICOM Part 10 header written in front of a received data set.

A received data set is spooled as sent, behind a header: 128-byte preamble, ``DICM`` and the
File Meta Information group (PS3.10 7.1), always Explicit VR Little Endian. pynetdicom builds
that group as a pydicom ``FileMetaDataset`` and pydicom encodes it: about 0.2 ms of Python
per instance, as much as decoding the data set. The group has seven fixed elements, so it is
encoded here directly, with the same values pynetdicom's ``Event.file_meta`` uses (a test
compares the bytes with pydicom's encoding).
"""

from __future__ import annotations

import struct

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

PREAMBLE = b"\0" * 128 + b"DICM"


def _short(tag_element: int, vr: bytes, value: bytes) -> bytes:
    """Explicit VR LE element with a 2-byte length (PS3.5 7.1.2), group 0002."""
    return struct.pack("<HH2sH", 0x0002, tag_element, vr, len(value)) + value


def _ui(text: str) -> bytes:
    raw = text.encode("ascii")
    return raw + b"\0" if len(raw) % 2 else raw  # UI pads with NULL (PS3.5 9.1)


def _sh(text: str) -> bytes:
    raw = text.encode("ascii")
    return raw + b" " if len(raw) % 2 else raw


def part10_header(sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str,
                  implementation_uid: str = PYNETDICOM_IMPLEMENTATION_UID,
                  implementation_version: str = PYNETDICOM_IMPLEMENTATION_VERSION) -> bytes:
    """Preamble, ``DICM`` and the File Meta Information group for one instance.

    Raises ``ValueError``/``struct.error`` for values no valid instance has (non-ASCII, or
    longer than a 2-byte length): the caller has already refused such a request."""
    body = b"".join((
        # (0002,0001) File Meta Information Version, OB: 4-byte length form
        struct.pack("<HH2sHL", 0x0002, 0x0001, b"OB", 0, 2) + b"\x00\x01",
        _short(0x0002, b"UI", _ui(sop_class_uid)),
        _short(0x0003, b"UI", _ui(sop_instance_uid)),
        _short(0x0010, b"UI", _ui(transfer_syntax)),
        _short(0x0012, b"UI", _ui(implementation_uid)),
        _short(0x0013, b"SH", _sh(implementation_version)),
    ))
    group_length = struct.pack("<HH2sHL", 0x0002, 0x0000, b"UL", 4, len(body))
    return PREAMBLE + group_length + body
