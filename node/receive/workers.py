"""Ingest processes: plain-TCP associations served by N worker processes, not N threads of one.

Why. With four storescu senders one SCP process used about 1.1 of the 2 cores while the
machine idled a third of the time, and made ~155 futex calls per instance (strace -c): every
blocking call of every association thread hands the GIL to another of the 8+ threads. The
durable path itself is short (py-spy: the GIL is held ~36 % of the time). More processes, each
with its own GIL and fewer threads, use the second core and end most of those hand-offs.

What stays in the main process: the accept loop and every pre-association guard of
:mod:`node.receive.transport` (pending-connection cap, deadline and size bound on the
A-ASSOCIATE-RQ, refusal audit), and TLS associations (a TLS session cannot move between
processes). Once a plain connection has sent a complete, decodable A-ASSOCIATE-RQ, its socket
(``SCM_RIGHTS``) and those bytes go to the worker with the fewest open associations; the worker
runs the same pynetdicom AE, handlers and :class:`~node.store.Store` (SQLite in WAL mode, spool
on the same file system, so ack-after-fsync holds per process) and reports back each closed
association and each stored instance (the runner's wake-up).

Limits: each worker rejects (transient) beyond ``ceil(max_associations / N)``; dispatch to the
least loaded keeps the total at ``max_associations`` before any worker refuses. A worker dies
with the main process (``PR_SET_PDEATHSIG``); one that dies alone is restarted, and until then
its share is served in the main process. Log records travel to the main process's handlers
(PHI guard applied in the worker before a record leaves it).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import logging.handlers
import math
import multiprocessing as mp
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.receive.config import ReceiveConfig
from node.store.config import StoreConfig

log = logging.getLogger(__name__)

#: worker -> main messages (one byte each)
_CLOSED = b"C"
_STORED = b"S"
_READY = b"R"
_HEADER = struct.Struct("<I")
_PR_SET_PDEATHSIG = 1
#: how long start-up waits for a worker to import and open the store
READY_TIMEOUT_S = 60.0
#: how long a stopping worker lets its open associations finish
DRAIN_S = 5.0
#: a worker that keeps dying is not restarted more often than this
RESTART_BACKOFF_S = 2.0


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to build the same AE and store as the main process."""

    receive: ReceiveConfig
    db_path: Path
    spool_dir: Path
    store: StoreConfig
    log_level: int
    max_associations: int


@dataclass
class _Worker:
    index: int
    process: Any
    ctrl: socket.socket
    open: int = 0
    alive: bool = True
    ready: threading.Event = field(default_factory=threading.Event)
    send_lock: threading.Lock = field(default_factory=threading.Lock)


def worker_count(configured: int | str) -> int:
    """``auto``: twice the cores, 2 to 4. Measured on 2 cores with four senders (idle
    machine, 1,200 instances): 1.1 cores used and ~290/s in one process, ~390/s with two
    workers, ~480/s with four (each association alone with its GIL); ~73 MB RSS per worker."""
    if configured == "auto":
        return max(2, min(4, 2 * (os.cpu_count() or 1)))
    return int(configured)


class WorkerPool:
    """The main process's side: start, feed, watch and stop the ingest workers."""

    def __init__(self, spec: WorkerSpec, n: int,
                 on_stored: Callable[[Any], None] | None = None) -> None:
        self._spec = spec
        self._n = n
        self._on_stored = on_stored
        self._ctx = mp.get_context("spawn")  # never fork a process that runs threads
        self._log_queue: Any = self._ctx.Queue()
        self._listener = logging.handlers.QueueListener(
            self._log_queue, _ForwardToLogger(), respect_handler_level=False)
        self._workers: list[_Worker | None] = [None] * n
        self._lock = threading.Lock()
        self._stopping = False
        self._last_start: dict[int, float] = {}

    @property
    def size(self) -> int:
        return self._n

    def open_counts(self) -> list[int]:
        with self._lock:
            return [w.open if w is not None and w.alive else -1 for w in self._workers]

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if w is not None and w.alive]

    def ready_count(self) -> int:
        with self._lock:
            return sum(1 for w in self._workers if w is not None and w.alive and w.ready.is_set())

    def start(self) -> None:
        self._listener.start()
        for i in range(self._n):
            self._spawn(i)
        deadline = time.monotonic() + READY_TIMEOUT_S
        for w in list(self._workers):
            if w is not None and not w.ready.wait(max(0.0, deadline - time.monotonic())):
                log.error("ingest worker %d did not start within %.0f s", w.index, READY_TIMEOUT_S)

    def _spawn(self, index: int) -> None:
        self._last_start[index] = time.monotonic()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        proc = self._ctx.Process(target=worker_main, args=(self._spec, theirs, self._log_queue, index),
                                 name=f"lipo-node-ingest-{index}", daemon=True)
        proc.start()
        theirs.close()
        worker = _Worker(index, proc, ours)
        with self._lock:
            self._workers[index] = worker
        threading.Thread(target=self._watch, args=(worker,), name=f"ingest-watch-{index}",
                         daemon=True).start()

    def _watch(self, worker: _Worker) -> None:
        """Read the worker's one-byte reports until it goes away."""
        while True:
            try:
                data = worker.ctrl.recv(4096)
            except OSError:
                data = b""
            if not data:
                break
            for b in data:
                msg = bytes((b,))
                if msg == _READY:
                    worker.ready.set()
                elif msg == _CLOSED:
                    with self._lock:
                        worker.open = max(0, worker.open - 1)
                elif msg == _STORED and self._on_stored is not None:
                    try:
                        self._on_stored(None)
                    except Exception:
                        log.exception("on_stored callback failed")
        with self._lock:
            worker.alive = False
            worker.open = 0
        worker.ready.set()
        with contextlib.suppress(OSError):
            worker.ctrl.close()
        worker.process.join(5)
        if self._stopping:
            return
        log.error("ingest worker %d exited (code %s); its associations were aborted; restarting",
                  worker.index, worker.process.exitcode)
        wait = self._last_start.get(worker.index, 0.0) + RESTART_BACKOFF_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if not self._stopping:
            self._spawn(worker.index)

    def hand_off(self, sock: socket.socket, client_address: Any, prefix: bytes) -> bool:
        """Give an accepted connection (A-ASSOCIATE-RQ already read) to the least loaded
        worker. False (the caller serves it itself) when no worker is ready."""
        with self._lock:
            ready = [w for w in self._workers if w is not None and w.alive and w.ready.is_set()]
            if not ready:
                return False
            worker = min(ready, key=lambda w: w.open)
            worker.open += 1
        host, port = (client_address[0], client_address[1]) if isinstance(client_address, tuple) \
            else (str(client_address), 0)
        meta = json.dumps({"host": str(host), "port": int(port)}).encode()
        payload = _HEADER.pack(len(meta)) + meta + prefix
        try:
            with worker.send_lock:
                socket.send_fds(worker.ctrl, [_HEADER.pack(len(payload))], [sock.fileno()])
                worker.ctrl.sendall(payload)
        except OSError:
            with self._lock:
                worker.open = max(0, worker.open - 1)
            log.warning("ingest worker %d unreachable; serving the association here", worker.index)
            return False
        sock.close()  # the worker holds its own descriptor now
        return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close the control sockets (a worker finishes its flushes and exits), then wait."""
        self._stopping = True
        with self._lock:
            workers = [w for w in self._workers if w is not None]
        for w in workers:
            with contextlib.suppress(OSError):
                w.ctrl.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout_s
        for w in workers:
            w.process.join(max(0.1, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(5)
        with contextlib.suppress(Exception):
            self._listener.stop()


class _ForwardToLogger(logging.Handler):
    """A worker's record, handled by the main process's own handlers (file, JSON, guard)."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


# -- the worker process ---------------------------------------------------------------------
def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _worker_logging(queue: Any, level: int) -> None:
    from node.logs import PhiGuard

    handler = logging.handlers.QueueHandler(queue)
    handler.addFilter(PhiGuard())  # redact before the record is pickled and leaves
    logging.captureWarnings(True)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("pynetdicom").setLevel(max(logging.WARNING, level))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _read_handoff(ctrl: socket.socket) -> tuple[int | None, dict[str, Any], bytes] | None:
    """One hand-off as :meth:`WorkerPool.hand_off` framed it (the descriptor rides on the
    length header); None when the main process closed the control socket."""
    try:
        header, fds, _, _ = socket.recv_fds(ctrl, _HEADER.size, 1)
        if not header:
            return None
        header += _recv_exact(ctrl, _HEADER.size - len(header))
        payload = _recv_exact(ctrl, _HEADER.unpack(header)[0])
    except (EOFError, OSError):
        return None
    meta_len = _HEADER.unpack_from(payload)[0]
    meta = json.loads(payload[_HEADER.size:_HEADER.size + meta_len])
    return (fds[0] if fds else None), meta, payload[_HEADER.size + meta_len:]


def worker_main(spec: WorkerSpec, ctrl: socket.socket, log_queue: Any, index: int) -> None:
    """Serve handed-off associations until the main process closes the control socket."""
    _die_with_parent()
    if os.getppid() == 1:  # the main process died before the line above took effect
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: main decides
    _worker_logging(log_queue, spec.log_level)
    from node.receive.scp import build_worker_server
    from node.store import Store

    send_lock = threading.Lock()

    def report(msg: bytes) -> None:
        with send_lock, contextlib.suppress(OSError):
            ctrl.sendall(msg)

    store = Store(spec.db_path, spec.spool_dir, spec.store)
    server = build_worker_server(spec.receive, store, spec.max_associations,
                                 on_stored=lambda _r: report(_STORED),
                                 on_closed=lambda: report(_CLOSED))
    report(_READY)
    try:
        while (handoff := _read_handoff(ctrl)) is not None:
            fd, meta, prefix = handoff
            if fd is None:
                log.error("ingest worker %d: hand-off without a socket", index)
                continue
            server.adopt(socket.socket(fileno=fd), (meta["host"], meta["port"]), prefix)
    finally:
        # let open associations finish (bounded), as the main process's own shutdown does
        deadline = time.monotonic() + DRAIN_S
        while server.ae.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)
        server.server_close()
        store.close()


def per_worker_limit(max_associations: int, n: int) -> int:
    return max(1, math.ceil(max_associations / max(1, n)))
