"""The C-STORE-RSP of a successful store, encoded directly.

pynetdicom turns every response primitive into a pydicom ``Dataset`` (one validated element at
a time), encodes it with pydicom's writer and fragments it: about 0.3 ms of Python per
instance, as much as our own checks of the received data set, for a command set of seven
fixed elements (PS3.7 9.3.1.2). A success is the answer to nearly every C-STORE, so only it
takes this path; failures, other messages and associations with observers of
``EVT_DIMSE_SENT`` (pynetdicom's debug logging) go pynetdicom's way. A test compares the
bytes with pynetdicom's encoding.

Also here: pynetdicom binds four logging handlers to every association that format a line for
each PDU and DIMSE message; :func:`quiet_standard_handlers` unbinds them when the
``pynetdicom`` logger would drop those lines anyway.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

from pynetdicom import evt
from pynetdicom._handlers import (
    standard_dimse_recv_handler,
    standard_dimse_sent_handler,
    standard_pdu_recv_handler,
    standard_pdu_sent_handler,
)
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.pdu_primitives import P_DATA

#: PS3.7 E.1: C-STORE-RSP command field; "no data set" command data set type
_C_STORE_RSP = 0x8001
_NO_DATA_SET = 0x0101
#: PS3.8 E.2 message control header: command fragment, last fragment
_LAST_COMMAND_FRAGMENT = b"\x03"
#: PDV item header (4-byte length, context id, control header) plus the PDU header
_PDU_OVERHEAD = 6 + 6


def _element(element: int, value: bytes) -> bytes:
    """Group 0000 element, implicit VR little endian (PS3.7 6.3.1)."""
    return struct.pack("<HHL", 0x0000, element, len(value)) + value


def _ui(uid: str) -> bytes:
    raw = uid.encode("ascii")
    return raw + b"\0" if len(raw) % 2 else raw


def store_success_command(message_id: int, sop_class_uid: str, sop_instance_uid: str) -> bytes:
    """The command set of a C-STORE-RSP with Status 0x0000 (PS3.7 9.3.1.2, Table 9.3-2)."""
    body = b"".join((
        _element(0x0002, _ui(sop_class_uid)),
        _element(0x0100, struct.pack("<H", _C_STORE_RSP)),
        _element(0x0120, struct.pack("<H", message_id)),
        _element(0x0800, struct.pack("<H", _NO_DATA_SET)),
        _element(0x0900, struct.pack("<H", 0x0000)),
        _element(0x1000, _ui(sop_instance_uid)),
    ))
    return _element(0x0000, struct.pack("<L", len(body))) + body


def fast_store_success(primitive: Any, context_id: int, max_pdu: int,
                       observed: bool) -> P_DATA | None:
    """The P-DATA for ``primitive`` if it is a plain C-STORE success, else None."""
    if observed or not isinstance(primitive, C_STORE) or primitive.Status != 0x0000:
        return None
    if primitive.MessageIDBeingRespondedTo is None or primitive.ErrorComment is not None \
            or primitive.OffendingElement is not None:
        return None
    sop_class, sop_instance = primitive.AffectedSOPClassUID, primitive.AffectedSOPInstanceUID
    if not sop_class or not sop_instance:
        return None
    command = store_success_command(int(primitive.MessageIDBeingRespondedTo), str(sop_class),
                                    str(sop_instance))
    if max_pdu and len(command) + _PDU_OVERHEAD > max_pdu:
        return None  # the peer wants fragments this small: pynetdicom fragments
    pdata = P_DATA()
    pdata.presentation_data_value_list.append((context_id, _LAST_COMMAND_FRAGMENT + command))
    return pdata


def dimse_sent_observed(assoc: Any) -> bool:
    return bool(assoc.get_handlers(evt.EVT_DIMSE_SENT))


def quiet_standard_handlers(assoc: Any) -> None:
    """Unbind pynetdicom's per-PDU/per-message logging handlers when its logger is quieter
    than INFO (what they log at): they would format lines nobody keeps."""
    if logging.getLogger("pynetdicom").isEnabledFor(logging.INFO):
        return
    for event, handler in ((evt.EVT_DIMSE_RECV, standard_dimse_recv_handler),
                           (evt.EVT_DIMSE_SENT, standard_dimse_sent_handler),
                           (evt.EVT_PDU_RECV, standard_pdu_recv_handler),
                           (evt.EVT_PDU_SENT, standard_pdu_sent_handler)):
        assoc.unbind(event, handler)
