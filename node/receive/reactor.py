"""Event-driven reactors for an accepted association: wake on work instead of polling.

pynetdicom 3.0.4 runs two loops per association and both *poll*: the DUL thread sleeps 1 ms
whenever it found nothing to do, and the association thread sleeps 1 ms before every look
at its message queue. A C-STORE therefore waits for up to three such naps (DUL reads the
request, association picks it up, DUL sends the response): measured on the ingest bench,
about 2 of pynetdicom's 3.2 ms per 130 KB instance on loopback are these naps, not work.

Here the same state machines run in loops that block on what they wait for:

- :class:`EventDUL` waits in ``select()`` on the peer's socket and on a wake-up pipe that
  :meth:`EventDUL.send_pdu` and :meth:`EventDUL.kill_dul` write to, so a request is read as
  soon as it arrives and a response leaves as soon as the handler returns it. After each
  state-machine action it sets the association's wake-up event (a DIMSE message, a release
  or an abort is then waiting for the association thread).
- :func:`run_acceptor_reactor` is the association loop with ``Event.wait`` in place of the nap.

Timers (ARTIM, network idle timeout) are still checked by a slower safety tick
(:data:`SAFETY_TICK_S`), which also bounds the cost of any wake-up this module missed: a
missed wake-up only delays, it never loses a message. An idle association's two threads wake 20
times a second each instead of 1,000.
"""

from __future__ import annotations

import logging
import os
import queue
import select
import threading
import time
from typing import Any

from pynetdicom import evt
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu import A_ABORT_RQ

log = logging.getLogger(__name__)

#: longest idle wait of either loop; timers are checked at least this often
SAFETY_TICK_S = 0.05
#: pynetdicom's own nap, kept where the DUL waits for a socket to close (state Sta13)
_STOCK_NAP_S = 0.001


class EventDUL(DULServiceProvider):
    """pynetdicom's DUL with a blocking idle wait (see the module docstring). Installed by
    re-classing the provider an ``Association`` built (:meth:`adopt`)."""

    _wake_r: int | None
    _wake_w: int | None
    _wake_lock: threading.Lock
    _assoc_wake: threading.Event
    _idle: bool

    _predecoded: Any

    @classmethod
    def adopt(cls, dul: DULServiceProvider, assoc_wake: threading.Event,
              predecoded: Any = None) -> EventDUL:
        """``predecoded``: the A-ASSOCIATE-RQ PDU the server already read and decoded (the
        first PDU this DUL reads); it is used instead of decoding the same bytes again."""
        dul.__class__ = cls
        event_dul: EventDUL = dul  # type: ignore[assignment]
        event_dul._predecoded = predecoded
        event_dul._wake_r = event_dul._wake_w = None  # the pipe lives as long as the thread
        event_dul._wake_lock = threading.Lock()
        event_dul._assoc_wake = assoc_wake
        event_dul._idle = False  # True only around select(): only then does a poke matter
        return event_dul

    # -- wake-ups from other threads ----------------------------------------------------
    def _poke(self) -> None:
        if not self._idle:  # busy: it looks at its queues before it next waits
            return
        with self._wake_lock:  # never write to a closed (possibly reused) descriptor
            if self._wake_w is not None:
                try:
                    os.write(self._wake_w, b"\0")
                except BlockingIOError:  # pipe full: a wake-up is already pending
                    pass

    def send_pdu(self, primitive: Any) -> None:
        super().send_pdu(primitive)
        self._poke()

    def kill_dul(self) -> None:
        super().kill_dul()
        self._poke()

    def stop_dul(self) -> bool:
        if self.state_machine.current_state == "Sta1":
            self._kill_thread = True
            self._poke()  # out of select() now, not at the next tick
        return super().stop_dul()

    def _decode_pdu(self, bytestream: bytearray) -> tuple[Any, str]:
        pdu, self._predecoded = self._predecoded, None
        if pdu is None or bytestream[:1] != b"\x01":
            return super()._decode_pdu(bytestream)
        # the same events pynetdicom fires around its own decode
        evt.trigger(self.assoc, evt.EVT_DATA_RECV, {"data": bytes(bytestream)})
        evt.trigger(self.assoc, evt.EVT_PDU_RECV, {"pdu": pdu})
        return pdu, "Evt6"

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> None:
        # Thread.run, not the target bound when pynetdicom built the thread (the stock
        # run_reactor, captured before the class was swapped)
        self.run_reactor()

    def _wait_for_work(self) -> None:
        """Block until the peer sent something, a primitive was queued, or a tick passed."""
        sock = self.socket
        raw = getattr(sock, "socket", None)
        if sock is not None and len(getattr(sock, "_prefix", b"")):
            return  # the A-ASSOCIATE-RQ read before the association existed is waiting
        pending = getattr(raw, "pending", None)
        if pending is not None and pending():
            return  # TLS: decrypted bytes buffered, select() would not see them
        if self.state_machine.current_state == "Sta13" or self._wake_r is None or raw is None:
            time.sleep(_STOCK_NAP_S)  # stock behaviour while the socket closes
            return
        # announce the wait, then look once more: a primitive queued before the flag was set
        # is seen here, one queued after it finds the flag and pokes (see _poke)
        self._idle = True
        try:
            if self.to_provider_queue.queue or self._kill_thread:
                return
            ready, _, _ = select.select([self._wake_r, raw], [], [], SAFETY_TICK_S)
        except (OSError, ValueError):  # socket closed under us: let the state machine see it
            return
        finally:
            self._idle = False
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass

    def run_reactor(self) -> None:
        """One state-machine event per iteration, as pynetdicom's loop; only the idle wait
        differs. Any exception aborts the association (A-ABORT from the provider)."""
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        with self._wake_lock:
            self._wake_r, self._wake_w = r, w
        self._idle_timer.start()
        idle = False
        try:
            while True:
                if not self.assoc._dul_ready.is_set():
                    self.assoc._dul_ready.set()
                if idle:
                    self._wait_for_work()
                if self._kill_thread:
                    break
                if self.artim_timer.expired:
                    self.event_queue.put("Evt18")
                try:
                    if not self._process_recv_primitive() and self._is_transport_event():
                        self._idle_timer.restart()
                except Exception:
                    log.exception("DUL reactor failed: aborting the association")
                    self._abort_now()
                    return
                try:
                    event = self.event_queue.get(block=False)
                except queue.Empty:
                    idle = True
                    continue
                self.state_machine.do_action(event)
                if self._concerns_association(event):
                    self._assoc_wake.set()
                idle = False
        finally:
            with self._wake_lock:
                self._wake_r = self._wake_w = None
            os.close(r)
            os.close(w)
            self._assoc_wake.set()  # the association thread notices the DUL is gone

    def _concerns_association(self, event: str) -> bool:
        """Whether the association thread has something new after ``event``: not after our
        own P-DATA went out (Evt9), nor after a P-DATA fragment that did not complete a DIMSE
        message (Evt10); after anything else (release, abort, close, ...) it must look."""
        if event == "Evt9" or self._assoc_wake.is_set():
            return False
        return event != "Evt10" or not self.assoc.dimse.msg_queue.empty()

    def _abort_now(self) -> None:
        """Bypass the state machine (it may be what failed): A-ABORT, then stop both loops."""
        pdu = A_ABORT_RQ()
        pdu.source = 0x02
        pdu.reason_diagnostic = 0x00
        try:
            if self.socket is not None:
                self.socket.send(pdu.encode())
        except Exception:
            pass
        assoc = self.assoc
        assoc.is_aborted = True
        assoc.is_established = False
        assoc._kill = True
        self._kill_thread = True


def run_acceptor_reactor(assoc: Any, wake: threading.Event) -> None:
    """The acceptor's DIMSE loop (pynetdicom ``Association._run_reactor`` semantics): serve
    requests, answer a release, notice an abort, a dead DUL or the network timeout. Waits on
    ``wake`` (set by :class:`EventDUL` after every state-machine action) instead of napping."""
    assoc._is_paused = False
    busy = False
    while not assoc._kill:
        if not busy:
            wake.wait(SAFETY_TICK_S)
        wake.clear()
        busy = False
        # handlers may use send_*() on this association: they pause the loop here first
        assoc._is_paused = True
        assoc._reactor_checkpoint.wait()
        assoc._is_paused = False

        context_id, msg = assoc.dimse.get_msg(block=False)
        if msg:
            assoc._serve_request(msg, context_id)
            busy = True  # another message may already be queued
        if assoc.is_established and assoc.acse.is_release_requested():
            # EVT_RELEASED before the A-RELEASE-RP: once the reply is out, the peer closes and
            # EVT_CONN_CLOSE (which writes the audit row) can win the race against it
            assoc.is_released = True
            assoc.is_established = False
            _trigger(assoc, "EVT_RELEASED")
            assoc.acse.send_release(is_response=True)
            assoc.kill()
            return
        if assoc.acse.is_aborted():
            assoc.dul.receive_pdu(wait=False)  # lets EVT_ACSE_RECV fire for the A-ABORT
            assoc.is_aborted = True
            assoc.is_established = False
            _trigger(assoc, "EVT_ABORTED")
            assoc.kill()
            return
        if not assoc.dul.is_alive():
            assoc.kill()
            return
        if assoc.dul.idle_timer_expired():
            log.error("network timeout reached")
            if assoc.network_timeout_response == "A-RELEASE":
                assoc._is_paused = True
                assoc._reactor_checkpoint.wait()
                assoc.release()
                assoc._is_paused = False
            else:
                assoc.abort()
            assoc.kill()
            return


def _trigger(assoc: Any, name: str) -> None:
    evt.trigger(assoc, getattr(evt, name), {})
