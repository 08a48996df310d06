"""pynetdicom event handlers: association policy and audit, C-STORE into the store.

Every handler gets its context (:class:`ReceiveContext`) as an argument (pynetdicom
``evt_handlers`` args) and returns a specific DIMSE status. C-STORE statuses (PS3.4 B.2.3):

- 0x0000 Success: only after ``Store.store_instance`` returned (fsync + rename + index).
- 0xA700 Refused, Out of Resources: disk below the watermark, or the write failed.
- 0xA900 Error, Data Set does not match SOP Class: SOP Class UID in the data set differs from
  the Affected SOP Class UID of the request.
- 0xC210/0xC211/0xC212 Error, Cannot understand: data set does not parse / identifying UID
  missing or invalid / pixel data truncated or undecodable.
- 0xC213 Error, Cannot understand: the data set's SOP Instance UID differs from the request's
  Affected SOP Instance UID (the object would be indexed under a UID the sender never named).

Log lines and audit rows carry AE titles, the peer address, UIDs, counts, status codes and
error *kinds* only: never a value read from the data set (a value may be a patient's name).
"""

from __future__ import annotations

import io
import logging
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pydicom import Dataset
from pydicom.uid import UID
from pynetdicom.association import Association
from pynetdicom.dsutils import decode
from pynetdicom.events import Event

from node.errors import InvalidInstance
from node.receive.policy import REJECT_PERMANENT, SOURCE_SERVICE_USER, AssociationPolicy
from node.receive.transport import Refusal
from node.store import AuditEvent, AuditKind, AuditResult, InstanceRecord, OutOfSpace, Store
from node.store.part10 import part10_header

log = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700  # PS3.4 B.2.3 Refused: Out of Resources
SOP_CLASS_MISMATCH = 0xA900  # PS3.4 B.2.3 Error: Data Set does not match SOP Class
CANNOT_UNDERSTAND = 0xC210  # PS3.4 B.2.3 Error: Cannot understand (data set does not parse)
INSTANCE_UID_MISMATCH = 0xC213  # PS3.4 B.2.3 Error: Cannot understand (Cxxx), see above


@dataclass
class Session:
    """Counters of one association, written to the audit table when its connection closes."""

    calling_ae: str
    called_ae: str
    host: str
    result: AuditResult = AuditResult.ABORTED
    instances: int = 0
    bytes: int = 0
    failures: int = 0
    detail: str = ""
    audit_id: int | None = None  # the row written when the association was accepted


@dataclass
class ReceiveContext:
    store: Store
    policy: AssociationPolicy
    on_stored: Callable[[InstanceRecord], None] | None = None
    sessions: dict[int, Session] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self, assoc: Association) -> Session:
        with self.lock:
            found = self.sessions.get(id(assoc))
            if found is None:  # events before EVT_REQUESTED (should not happen); keep counting
                req = assoc.requestor
                found = Session(str(req.ae_title or ""), "", str(req.address or ""))
                self.sessions[id(assoc)] = found
            return found


def handle_requested(event: Event, ctx: ReceiveContext) -> None:
    """EVT_REQUESTED: apply the AE/host policy before negotiation (PS3.8 9.3.4)."""
    rq = event.assoc.requestor.primitive
    calling = str(rq.calling_ae_title).strip()
    called = str(rq.called_ae_title).strip()
    host = str(event.assoc.requestor.address)
    sess = Session(calling, called, host)
    with ctx.lock:
        ctx.sessions[id(event.assoc)] = sess
    reason = ctx.policy.check(calling, called, host)
    if reason is not None:
        sess.result = AuditResult.REJECTED
        sess.detail = reason.name.lower()
        log.info("rejecting association from %s@%s: %s", calling, host, sess.detail)
        event.assoc.acse.send_reject(REJECT_PERMANENT, SOURCE_SERVICE_USER, int(reason))
        event.assoc.kill()


def handle_accepted(event: Event, ctx: ReceiveContext) -> None:
    """Write the association's audit row now (result ``open``), so that even a node killed
    mid-association leaves a row; :func:`handle_conn_close` or start-up reconciliation
    completes it."""
    sess = ctx.session(event.assoc)
    try:
        sess.audit_id = ctx.store.audit(AuditEvent(
            kind=AuditKind.ASSOCIATION, result=AuditResult.OPEN, calling_ae=sess.calling_ae,
            called_ae=sess.called_ae, host=sess.host,
        ))
    except Exception:
        log.exception("could not write association audit row")
    sess.result = AuditResult.ABORTED  # until a release is seen


def handle_released(event: Event, ctx: ReceiveContext) -> None:
    ctx.session(event.assoc).result = AuditResult.RELEASED


def handle_rejected(event: Event, ctx: ReceiveContext) -> None:
    """pynetdicom's own rejections (e.g. too many associations, PS3.8 reason 2 transient)."""
    sess = ctx.session(event.assoc)
    sess.result = AuditResult.REJECTED
    sess.detail = sess.detail or "rejected_by_acse"


def handle_conn_close(event: Event, ctx: ReceiveContext) -> None:
    """Audit every association once, when its TCP connection closes."""
    with ctx.lock:
        sess = ctx.sessions.pop(id(event.assoc), None)
    if sess is None:  # connection closed before an A-ASSOCIATE-RQ (port scan, TLS failure)
        return
    row = AuditEvent(
        kind=AuditKind.ASSOCIATION, result=sess.result, calling_ae=sess.calling_ae,
        called_ae=sess.called_ae, host=sess.host, instances=sess.instances,
        bytes=sess.bytes, detail=sess.detail or (f"{sess.failures} failed" if sess.failures else ""),
    )
    try:
        if sess.audit_id is not None:
            ctx.store.update_audit(sess.audit_id, row)
        else:
            ctx.store.audit(row)
    except Exception:  # an audit write must never take the SCP down
        log.exception("could not write association audit row")


def record_refusal(refusal: Refusal, ctx: ReceiveContext) -> None:
    """A connection the transport closed before an association existed (TLS handshake
    failed or timed out, no/oversized/late A-ASSOCIATE-RQ, malformed command set)."""
    ctx.store.audit(AuditEvent(kind=AuditKind.ASSOCIATION, result=AuditResult.REJECTED,
                               host=refusal.host, detail=refusal.reason))


def _failure(event: Event, ctx: ReceiveContext, status: int, result: AuditResult, msg: str) -> Dataset:
    sess = ctx.session(event.assoc)
    sess.failures += 1
    uid = str(getattr(event.request, "AffectedSOPInstanceUID", "") or "")
    if not _valid_uid(uid):  # a hostile "UID" could be any text; keep only a real one
        uid = ""
    log.warning("C-STORE from %s refused 0x%04X: %s", sess.calling_ae, status, msg)
    try:
        ctx.store.audit(AuditEvent(
            kind=AuditKind.INSTANCE, result=result, calling_ae=sess.calling_ae,
            called_ae=sess.called_ae, host=sess.host, status=status,
            sop_instance_uid=uid[:64] or None, detail=msg[:500],
        ))
    except Exception:
        log.exception("could not write instance audit row")
    rsp = Dataset()
    rsp.Status = status
    rsp.ErrorComment = msg[:64]
    return rsp


def _valid_uid(text: str) -> bool:
    return 0 < len(text) <= 64 and UID(text).is_valid


def _decode(event: Event) -> tuple[Dataset, bytes]:
    """The data set as parsed from the bytes sent, and those bytes.

    Not ``event.dataset``: pynetdicom stamps the negotiated encoding on it, hiding a data set
    that only parsed because pydicom fell back to the other VR mode (a lying header). The
    received bytes are taken once and spooled as they came (never re-encoded, not even joined
    to the Part 10 header: the spool writes both with one ``writev``). No ``file_meta`` is
    built (pynetdicom's costs as much as the decode): the checks are given the negotiated
    transfer syntax instead.
    """
    ts = event.context.transfer_syntax
    body = event.request.DataSet.getvalue()
    return decode(io.BytesIO(body), ts.is_implicit_VR, ts.is_little_endian, ts.is_deflated), body


def handle_store(event: Event, ctx: ReceiveContext) -> int | Dataset:
    """EVT_C_STORE: decode, check, durably store, then (and only then) answer Success."""
    sess = ctx.session(event.assoc)
    try:
        ds, body = _decode(event)
    except Exception as exc:  # any decode failure is "cannot understand"
        return _failure(event, ctx, CANNOT_UNDERSTAND, AuditResult.FAILED,
                        f"data set does not parse: {type(exc).__name__}")
    requested_class = str(event.request.AffectedSOPClassUID)
    try:
        found_class, found_uid = str(ds.get("SOPClassUID", "")), str(ds.get("SOPInstanceUID", ""))
    except Exception as exc:
        return _failure(event, ctx, CANNOT_UNDERSTAND, AuditResult.FAILED,
                        f"data set does not parse: {type(exc).__name__}")
    if found_class not in ("", requested_class):
        return _failure(event, ctx, SOP_CLASS_MISMATCH, AuditResult.FAILED,
                        "SOP Class UID differs from Affected SOP Class UID")
    if found_uid and found_uid.strip() != str(event.request.AffectedSOPInstanceUID).strip():
        return _failure(event, ctx, INSTANCE_UID_MISMATCH, AuditResult.FAILED,
                        "SOP Instance UID differs from Affected SOP Instance UID")
    transfer_syntax = str(event.context.transfer_syntax)
    try:
        header = part10_header(requested_class, str(event.request.AffectedSOPInstanceUID),
                               transfer_syntax)
    except (ValueError, struct.error):  # no valid instance gets here (UIDs are checked next)
        return _failure(event, ctx, CANNOT_UNDERSTAND, AuditResult.FAILED,
                        "identifying UIDs cannot be encoded")
    try:
        stored = ctx.store.store_instance(
            ds, transfer_syntax=transfer_syntax, calling_ae=sess.calling_ae,
            raw=(header, body), association_id=sess.audit_id,
        )
    except InvalidInstance as exc:
        return _failure(event, ctx, getattr(exc, "dimse_status", CANNOT_UNDERSTAND),
                        AuditResult.FAILED, str(exc))
    except OutOfSpace as exc:
        return _failure(event, ctx, OUT_OF_RESOURCES, AuditResult.REFUSED, str(exc))
    except OSError as exc:
        return _failure(event, ctx, OUT_OF_RESOURCES, AuditResult.REFUSED,
                        f"spool write failed: {exc.strerror}")
    sess.instances += 1
    sess.bytes += stored.record.size
    if ctx.on_stored is not None and not stored.duplicate:
        try:
            ctx.on_stored(stored.record)
        except Exception:  # the instance is safe; a listener bug must not fail the C-STORE
            log.exception("on_stored callback failed")
    return SUCCESS
