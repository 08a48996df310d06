"""Raw-socket peers for the hostile-traffic tests: PDUs built by hand, not by an SCU library,
so a test can send what no well-behaved peer would (PS3.8 9.3 PDU layouts)."""

from __future__ import annotations

import socket
import struct
import time

import pydicom
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pynetdicom import AE
from pynetdicom.pdu import A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import build_context
from receive_helpers import OUR_AE, SCU_AE

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


def associate_rq(calling: str = SCU_AE, called: str = OUR_AE,
                 abstract: str = VERIFICATION, transfer: str = IMPLICIT_LE) -> bytes:
    """A well-formed A-ASSOCIATE-RQ PDU with one presentation context."""
    prim = A_ASSOCIATE()
    prim.application_context_name = "1.2.840.10008.3.1.1.1"
    prim.calling_ae_title, prim.called_ae_title = calling, called
    max_len = MaximumLengthNotification()
    max_len.maximum_length_received = 16384
    impl = ImplementationClassUIDNotification()
    impl.implementation_class_uid = "1.2.826.0.1.3680043.9.7433.1.1"
    prim.user_information = [max_len, impl]
    cx = build_context(abstract, [transfer])
    cx.context_id = 1
    prim.presentation_context_definition_list = [cx]
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(prim)
    return pdu.encode()


def command_set(**elements: object) -> bytes:
    """A DIMSE command set, implicit VR LE (PS3.7 6.3.1), with its group length."""
    ds = pydicom.Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, True
    write_dataset(body, ds)
    raw = body.getvalue()
    return struct.pack("<HHLL", 0x0000, 0x0000, 4, len(raw)) + raw


def p_data(context_id: int, payload: bytes, *, command: bool, last: bool = True) -> bytes:
    """One P-DATA-TF PDU carrying one PDV (PS3.8 9.3.5, E.2 message control header)."""
    header = (0x01 if command else 0x00) | (0x02 if last else 0x00)
    pdv = struct.pack(">LBB", len(payload) + 2, context_id, header) + payload
    return struct.pack(">BBL", 0x04, 0x00, len(pdv)) + pdv


def read_pdu(sock: socket.socket, timeout_s: float) -> tuple[int, bytes] | None:
    """Next PDU (type, body) or None when the peer closed or nothing came in time."""
    sock.settimeout(timeout_s)
    try:
        head = _exact(sock, 6)
        if head is None:
            return None
        pdu_type, _, length = struct.unpack(">BBL", head)
        body = _exact(sock, length)
        return None if body is None else (pdu_type, body)
    except (TimeoutError, OSError):
        return None


def _exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def echo_seconds(port: int, timeout_s: float = 10.0) -> float | None:
    """Time for a complete C-ECHO association (associate, echo, release); None on failure."""
    ae = AE(ae_title=SCU_AE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.add_requested_context(VERIFICATION)
    start = time.monotonic()
    assoc = ae.associate("127.0.0.1", port, ae_title=OUR_AE)
    if not assoc.is_established:
        return None
    rsp = assoc.send_c_echo()
    assoc.release()
    if rsp.get("Status") != 0x0000:
        return None
    return time.monotonic() - start


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)
