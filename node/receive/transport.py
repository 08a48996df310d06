"""A pynetdicom server that an unauthenticated peer cannot stall, starve or bloat.

pynetdicom 3.0.4's ``ThreadedAssociationServer`` has four weaknesses under hostile traffic,
each fixed here by subclassing one of its documented classes (``AssociationServer`` takes a
``request_handler``; ``RequestHandler`` builds the ``Association`` and its socket), so the
DUL/ACSE/DIMSE state machines stay pynetdicom's own:

1. TLS: ``get_request`` wraps the socket and so runs the whole handshake *in the accept
   thread*; one silent TCP peer blocks every TLS caller. :class:`GuardedServer` only accepts
   there and does the handshake in the connection's own thread, under a deadline, and logs
   and audits a failed handshake.
2. Slots: every connection becomes an ``Association`` thread at once and counts against
   ``maximum_associations`` from its first byte, so six junk bytes hold a slot for the ACSE
   timeout. Here the A-ASSOCIATE-RQ is read completely (deadline, size bound) and decoded
   *before* an ``Association`` exists; only then does pynetdicom see the connection, so a slot is only
   ever held by a peer that sent a whole association request. Connections still in that
   first phase are capped separately; when the cap is hit the oldest one is dropped, so a
   slowloris or half-open flood cannot lock a new caller out.
3. Memory: the DUL reads a PDU's announced length into memory without a bound (a 4 GiB
   A-ASSOCIATE-RQ is buffered). :class:`BoundedSocket` refuses any PDU longer than our
   Maximum Length Received (PS3.8 D.1, ``max_pdu_bytes``) with an A-ABORT before reading it;
   the A-ASSOCIATE-RQ bound is tighter still (:data:`MAX_ASSOCIATE_RQ_BYTES`). It also reads
   a PDU with one ``recv_into`` per chunk instead of 4 KiB ``bytearray`` appends.
4. Malformed command sets: pynetdicom logs "unexpected service message" and sends nothing
   when a request lacks a required command element, and an unknown Command Field kills its
   DUL thread; either way the sender waits for its own timeout. :class:`StrictAssociation`
   and :class:`StrictDIMSE` answer both with an A-ABORT at once.

Beyond safety, both per-association loops are replaced by event-driven ones
(:mod:`node.receive.reactor`): pynetdicom's 1 ms naps were most of its per-instance latency.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynetdicom.association import Association
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.pdu import A_ASSOCIATE_RQ as A_ASSOCIATE_RQ_PDU
from pynetdicom.transport import (
    AssociationSocket,
    RequestHandler,
    ThreadedAssociationServer,
)

from node.receive.dimse_fast import dimse_sent_observed, fast_store_success, quiet_standard_handlers
from node.receive.reactor import EventDUL, run_acceptor_reactor

if TYPE_CHECKING:
    from node.receive.workers import WorkerPool

log = logging.getLogger(__name__)

#: PDU types (PS3.8 9.3.1): 0x01 A-ASSOCIATE-RQ ... 0x07 A-ABORT
A_ASSOCIATE_RQ = 0x01
#: An A-ASSOCIATE-RQ with 128 presentation contexts of 20 transfer syntaxes each is ~80 KB;
#: nothing legitimate needs more, whatever the P-DATA bound is.
MAX_ASSOCIATE_RQ_BYTES = 256 * 1024
#: Bound used when ``max_pdu_bytes`` is 0 ("unlimited" in PS3.8 terms; never unbounded here).
HARD_PDU_CAP = 64 * 1024 * 1024
_CHUNK = 256 * 1024
#: Senders differ on whether the PDV item headers count towards our Maximum Length Received;
#: a few bytes over it are tolerated, never more
PDU_SLACK = 64


def _abort_pdu(reason: int) -> bytes:
    """A-ABORT from the service provider (source 2) with a PS3.8 Table 9-26 reason."""
    pdu = A_ABORT_RQ()
    pdu.source = 0x02
    pdu.reason_diagnostic = reason
    return pdu.encode()


ABORT_UNRECOGNISED_PDU = 0x01
ABORT_UNEXPECTED_PDU = 0x02
ABORT_INVALID_PDU_PARAMETER = 0x06


@dataclass(frozen=True)
class Refusal:
    """A connection closed before pynetdicom saw it: what happened, for the log and audit."""

    host: str
    reason: str  # short code, never peer-supplied text


class PreAssociationError(Exception):
    def __init__(self, reason: str, abort: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.abort = abort


class BoundedSocket(AssociationSocket):
    """pynetdicom's socket wrapper with the A-ASSOCIATE-RQ already read (``_prefix``), a bound
    on every PDU length and a network timeout on every read. Made by re-classing the
    ``AssociationSocket`` pynetdicom builds (:meth:`adopt`), so its constructor (which queues
    the transport-connected event) runs exactly once."""

    _prefix: memoryview
    _pdu_limit: int

    @classmethod
    def adopt(cls, sock: AssociationSocket, prefix: bytes, pdu_limit: int,
              read_timeout_s: float | None) -> BoundedSocket:
        sock.__class__ = cls
        bounded: BoundedSocket = sock  # type: ignore[assignment]
        bounded._prefix = memoryview(bytes(prefix))
        bounded._pdu_limit = pdu_limit
        if bounded.socket is not None:
            bounded.socket.settimeout(read_timeout_s)
        return bounded

    @property
    def ready(self) -> bool:
        if len(self._prefix):
            return True
        return super().ready

    def recv(self, nr_bytes: int) -> bytearray:
        if not len(self._prefix) and nr_bytes > self._pdu_limit + PDU_SLACK:
            # the DUL asks for a PDU's body by its announced length: refuse before buffering
            log.warning("PDU of %d bytes announced, limit %d: aborting", nr_bytes, self._pdu_limit)
            self._refuse()
            return bytearray()
        out = bytearray(nr_bytes)
        view = memoryview(out)
        got = 0
        if len(self._prefix):
            take = min(nr_bytes, len(self._prefix))
            view[:take] = self._prefix[:take]
            self._prefix = self._prefix[take:]
            got = take
        sock = self.socket
        while got < nr_bytes and sock is not None:
            n = sock.recv_into(view[got:], min(nr_bytes - got, _CHUNK))
            if not n:
                break
            got += n
        del view
        if got < nr_bytes:
            del out[got:]
        return out

    def _refuse(self) -> None:
        try:
            if self.socket is not None:
                self.socket.sendall(_abort_pdu(ABORT_INVALID_PDU_PARAMETER))
        except OSError:
            pass


class StrictAssociation(Association):
    """An acceptor that aborts at once on a request it cannot answer (PS3.7 has no reply for a
    request without Message ID; leaving the peer waiting is worse than an A-ABORT)."""

    def _serve_request(self, msg: Any, context_id: int) -> None:
        if not self._sent_release and not msg.is_valid_request:
            log.warning("malformed %s request (required command element missing): A-ABORT",
                        type(msg).__name__)
            server = getattr(self, "_server", None)
            if isinstance(server, GuardedServer) and server.on_refused is not None:
                server.on_refused(Refusal(str(self.requestor.address), "malformed_command_set"))
            self.abort()
            return
        super()._serve_request(msg, context_id)

    def _run_reactor(self) -> None:
        run_acceptor_reactor(self, self._lipo_wake)


class StrictDIMSE(DIMSEServiceProvider):
    """pynetdicom decodes a command set inside the DUL state machine, outside the reactor's
    exception guard: an unknown Command Field (``KeyError``) kills the DUL thread and the peer
    waits for its own timeout. Here any decode failure is an invalid PDU (Evt19), which the
    state machine answers with an A-ABORT (PS3.8 9.2, action AA-8)."""

    def receive_primitive(self, primitive: Any) -> None:
        try:
            super().receive_primitive(primitive)
        except Exception as exc:
            log.warning("undecodable DIMSE message (%s): A-ABORT", type(exc).__name__)
            self.message = None
            self.dul.event_queue.put("Evt19")

    def send_msg(self, primitive: Any, context_id: int) -> None:
        """A C-STORE success leaves through :mod:`node.receive.dimse_fast`; anything else
        (and any association someone observes) through pynetdicom."""
        pdata = fast_store_success(primitive, context_id, self.maximum_pdu_size,
                                   dimse_sent_observed(self.assoc))
        if pdata is None:
            super().send_msg(primitive, context_id)
        else:
            self.dul.send_pdu(pdata)


class GuardedRequestHandler(RequestHandler):
    """Builds a :class:`StrictAssociation` on a :class:`BoundedSocket` fed with the
    A-ASSOCIATE-RQ the server already read."""

    server: GuardedServer

    def _create_association(self) -> Association:
        assoc = super()._create_association()
        assoc.__class__ = StrictAssociation
        assoc.dimse.__class__ = StrictDIMSE
        quiet_standard_handlers(assoc)
        assoc._lipo_wake = threading.Event()  # type: ignore[attr-defined]
        prefix, decoded = self.server.take_prefix(self.request)
        EventDUL.adopt(assoc.dul, assoc._lipo_wake, decoded)  # type: ignore[attr-defined]
        BoundedSocket.adopt(assoc.dul.socket, prefix, self.server.pdu_limit,
                            self.server.read_timeout_s)
        return assoc


class GuardedServer(ThreadedAssociationServer):
    """See the module docstring. ``on_refused`` is told of every connection closed before an
    association existed (TLS failure, no/oversized/late/invalid A-ASSOCIATE-RQ)."""

    #: listen backlog (socketserver's default is 5): a burst of half-open connections must
    #: not push a legitimate SYN into the kernel's retry back-off
    request_queue_size = 256
    pdu_limit: int = HARD_PDU_CAP
    read_timeout_s: float | None = None
    request_deadline_s: float = 5.0
    max_pending: int = 128
    on_refused: Callable[[Refusal], None] | None = None
    #: in an ingest process: told when an adopted connection could not become an association
    on_adopt_failed: Callable[[], None] | None = None
    #: ingest processes (:class:`node.receive.workers.WorkerPool`) that plain-TCP connections
    #: are handed to once their A-ASSOCIATE-RQ was read; stopped with this server
    pool: WorkerPool | None = None

    def __init__(self, ae: Any, address: Any, ae_title: str, contexts: Any,
                 ssl_context: ssl.SSLContext | None = None, evt_handlers: Any = None,
                 request_handler: Any = None) -> None:
        # pynetdicom would wrap (and handshake) in the accept thread: keep the context here
        self._tls = ssl_context
        super().__init__(ae, address, ae_title, contexts, None, evt_handlers=evt_handlers,
                         request_handler=request_handler or GuardedRequestHandler)
        self._pending: dict[socket.socket, float] = {}
        self._prefixes: dict[int, tuple[bytes, A_ASSOCIATE_RQ_PDU | None]] = {}
        self._guard = threading.Lock()
        self.daemon_threads = True

    # -- accept thread: accept and nothing else -------------------------------------------
    def get_request(self) -> tuple[socket.socket, Any]:
        assert self.socket is not None
        return self.socket.accept()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._guard:
            if len(self._pending) >= self.max_pending:
                oldest = min(self._pending, key=self._pending.__getitem__)
                self._pending.pop(oldest)
                _drop(oldest)
                log.warning("pre-association connection cap (%d) reached: dropped the oldest",
                            self.max_pending)
            self._pending[request] = time.monotonic()
        ThreadedAssociationServer.process_request(self, request, client_address)

    # -- connection thread ----------------------------------------------------------------
    def process_request_thread(self, request: Any, client_address: Any) -> None:
        raw: socket.socket = request
        host = str(client_address[0])
        deadline = time.monotonic() + self.request_deadline_s
        sock: socket.socket = raw
        try:
            if self._tls is not None:
                sock = self._handshake(raw, deadline)
            prefix, decoded = self._read_associate_rq(sock, deadline)
        except (PreAssociationError, OSError, ValueError) as exc:  # OSError/ValueError: closed
            if not isinstance(exc, PreAssociationError):
                exc = PreAssociationError("connection_error")
            failure = exc if self._forget(raw) else PreAssociationError("evicted_pre_association")
            if failure.abort is not None:
                try:
                    sock.settimeout(1.0)
                    sock.sendall(_abort_pdu(failure.abort))
                except (OSError, ValueError):
                    pass
            _drop(sock)
            self._refused(Refusal(host, failure.reason))
            return
        if not self._forget(raw):  # evicted by a newer connection while we finished
            _drop(sock)
            self._refused(Refusal(host, "evicted_pre_association"))
            return
        if self.pool is not None and self._tls is None:
            try:
                if self.pool.hand_off(sock, client_address, prefix):
                    return
            except Exception:
                log.exception("hand-off to an ingest process failed; serving it here")
        self._start_association(sock, client_address, prefix, decoded)

    def _start_association(self, sock: socket.socket, client_address: Any, prefix: bytes,
                           decoded: A_ASSOCIATE_RQ_PDU | None) -> bool:
        with self._guard:
            self._prefixes[id(sock)] = (prefix, decoded)
        try:
            self.finish_request(sock, client_address)
        except Exception:
            log.exception("association set-up failed")
            self._prefixes.pop(id(sock), None)
            _drop(sock)
            return False
        return True

    def adopt(self, sock: socket.socket, client_address: Any, prefix: bytes) -> None:
        """In an ingest process: serve a connection whose A-ASSOCIATE-RQ (``prefix``) the main
        process read and checked."""
        try:
            decoded = decode_associate_rq(prefix)
        except Exception:
            decoded = None  # cannot happen for bytes the main process decoded; the DUL decides
        if self._tls is None:
            sock.settimeout(self.read_timeout_s)
        if not self._start_association(sock, client_address, prefix, decoded) \
                and self.on_adopt_failed is not None:
            self.on_adopt_failed()

    def shutdown(self) -> None:
        super().shutdown()
        if self.pool is not None:
            self.pool.stop()

    def take_prefix(self, sock: socket.socket) -> tuple[bytes, A_ASSOCIATE_RQ_PDU | None]:
        with self._guard:
            return self._prefixes.pop(id(sock), (b"", None))

    def _forget(self, raw: socket.socket) -> bool:
        with self._guard:
            return self._pending.pop(raw, None) is not None

    def _refused(self, refusal: Refusal) -> None:
        log.info("connection from %s closed before association: %s", refusal.host, refusal.reason)
        if self.on_refused is not None:
            try:
                self.on_refused(refusal)
            except Exception:
                log.exception("could not record a refused connection")

    def _handshake(self, raw: socket.socket, deadline: float) -> ssl.SSLSocket:
        assert self._tls is not None
        raw.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            return self._tls.wrap_socket(raw, server_side=True)
        except TimeoutError as exc:
            raise PreAssociationError("tls_handshake_timeout") from exc
        except ssl.SSLError as exc:
            reason = (exc.reason or "error").lower() if isinstance(exc.reason, str) else "error"
            raise PreAssociationError(f"tls_handshake_failed:{reason}"[:80]) from exc
        except OSError as exc:
            raise PreAssociationError("tls_handshake_failed:connection") from exc

    def _read_associate_rq(self, sock: socket.socket,
                           deadline: float) -> tuple[bytes, A_ASSOCIATE_RQ_PDU]:
        header = _read_exact(sock, 6, deadline, "no_association_request")
        pdu_type, _, length = struct.unpack(">BBL", header)
        if pdu_type != A_ASSOCIATE_RQ:
            raise PreAssociationError("not_an_association_request", ABORT_UNEXPECTED_PDU
                                      if 0x02 <= pdu_type <= 0x07 else ABORT_UNRECOGNISED_PDU)
        limit = min(self.pdu_limit, MAX_ASSOCIATE_RQ_BYTES)
        if length > limit or length < 68:  # PS3.8 9.3.2: fixed part alone is 68 bytes
            raise PreAssociationError("association_request_length", ABORT_INVALID_PDU_PARAMETER)
        data = header + _read_exact(sock, length, deadline, "association_request_incomplete")
        # Decoded here, with pynetdicom's own PDU class, because an A-ASSOCIATE-RQ that its DUL
        # cannot decode ends the DUL thread while the association thread still waits
        # ``acse_timeout`` for the request: a slot held for 30 s by a few garbled bytes. The
        # DUL is then handed this decoded PDU (and its primitive) instead of decoding it again:
        # with the 128 presentation contexts storescu proposes that is ~25 ms per association.
        try:
            return data, decode_associate_rq(data)
        except Exception as exc:
            raise PreAssociationError("invalid_association_request",
                                      ABORT_INVALID_PDU_PARAMETER) from exc


def decode_associate_rq(data: bytes) -> A_ASSOCIATE_RQ_PDU:
    """The PDU decoded once, its primitive computed once and kept (``to_primitive``)."""
    rq = A_ASSOCIATE_RQ_PDU()
    rq.decode(data)
    primitive = rq.to_primitive()
    rq.to_primitive = lambda: primitive  # type: ignore[method-assign]
    return rq


def _read_exact(sock: socket.socket, n: int, deadline: float, reason: str) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise PreAssociationError(reason + "_timeout")
        sock.settimeout(left)
        try:
            k = sock.recv_into(view[got:], n - got)
        except TimeoutError as exc:
            raise PreAssociationError(reason + "_timeout") from exc
        except OSError as exc:
            raise PreAssociationError(reason) from exc
        if not k:
            raise PreAssociationError(reason)
        got += k
    return bytes(buf)


def _drop(sock: socket.socket) -> None:
    """Close now; a thread blocked in ``recv`` on it wakes with an error."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
