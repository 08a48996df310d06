"""Group commit: the instances written by every association made durable by one flush.

Each C-STORE handler writes its file and renames it into place without syncing, hands it to
the :class:`GroupCommitter` and waits. One of the waiting handlers (the leader) takes
*everything* waiting, makes it durable with one flush of the spool's file system
(:func:`syncfs`: one journal commit for the whole batch, where a per-file fsync costs one
commit each), commits the batch's index rows in one SQLite transaction and only then wakes
the other handlers, so each C-STORE-RSP still follows the durability of its own instance
(ARCHITECTURE.md, ack after fsync). While one batch flushes, the next one gathers: with K
associations sending, a flush serves up to K instances.

A crash between the rename and the index commit leaves a complete, never acknowledged file
without a row; :meth:`node.store.Store.reconcile` indexes it at the next start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):  # not Linux / no glibc symbol
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_SYNCFS = _load_syncfs()


def syncfs_available() -> bool:
    return _SYNCFS is not None


def syncfs(fd: int) -> None:
    """syncfs(2): write back and commit everything on the file system holding ``fd``; since
    Linux 5.8 it reports write-back errors of that file system (EIO, ENOSPC)."""
    if _SYNCFS is None:
        raise OSError("syncfs(2) is not available here")
    if _SYNCFS(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@dataclass
class _Waiter:
    path: Path
    row: tuple[Any, ...]
    done: bool = False
    error: BaseException | None = None


@dataclass
class Ticket:
    """A caller announced to the committer: it will commit soon (or withdraw)."""

    open: bool = True


class GroupCommitter:
    """Leader/follower group commit: :meth:`commit` blocks until its item is durable and
    indexed (or raises the error that stopped its batch).

    No thread of its own: the first caller that finds no flush running becomes the leader,
    takes everything queued, flushes and indexes it, then wakes the others; callers that
    arrived meanwhile form the next batch and one of them leads it. A lone association
    therefore pays no thread hand-off, and K concurrent ones share one flush.

    Gathering: callers :meth:`announce` themselves when they start on an instance (decode,
    checks, write). A leader waits up to ``max_gather_s`` for announced callers that have not
    queued yet, so that K senders whose instances arrive a little apart still share a flush
    (PostgreSQL's commit_delay, but only while someone is actually on the way: a lone
    association never waits).
    """

    def __init__(self, flush: Callable[[Sequence[Path]], None],
                 index: Callable[[Sequence[tuple[Any, ...]]], None], max_batch: int = 512,
                 max_gather_s: float = 0.002) -> None:
        self._flush = flush
        self._index = index
        self._max_batch = max_batch
        self._max_gather_s = max_gather_s
        self._arriving = 0
        self._gathering = False
        self._cond = threading.Condition()
        self._queue: list[_Waiter] = []
        self._flushing = False
        self._closed = False
        #: batches flushed and instances in them (for the bench and tests)
        self.batches = 0
        self.committed = 0

    def announce(self) -> Ticket:
        with self._cond:
            self._arriving += 1
        return Ticket()

    def withdraw(self, ticket: Ticket) -> None:
        """The announced caller will not commit (refused instance) or has committed."""
        with self._cond:
            self._settle(ticket)

    def _settle(self, ticket: Ticket | None) -> None:
        if ticket is not None and ticket.open:
            ticket.open = False
            self._arriving -= 1
            if self._gathering:
                self._cond.notify_all()  # the gathering leader re-counts

    def commit(self, path: Path, row: tuple[Any, ...], ticket: Ticket | None = None) -> None:
        waiter = _Waiter(path, row)
        with self._cond:
            self._settle(ticket)
            if self._closed:
                raise OSError("the store is closing")
            self._queue.append(waiter)
            while not waiter.done and self._flushing:
                self._cond.wait()
            if waiter.done:  # a leader committed it while we waited
                batch = None
            else:  # lead: gather those on the way, then everything queued is this batch
                self._flushing = True
                deadline = time.monotonic() + self._max_gather_s
                self._gathering = True
                while self._arriving > 0 and len(self._queue) < self._max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                self._gathering = False
                batch = self._queue[:self._max_batch]
                del self._queue[:self._max_batch]
        if batch is not None:
            self._lead(batch)
        if waiter.error is not None:
            raise waiter.error

    def _lead(self, batch: list[_Waiter]) -> None:
        error: BaseException | None = None
        try:
            self._flush([w.path for w in batch])
            self._index([w.row for w in batch])
        except BaseException as exc:  # every waiter of the batch must hear about it
            log.error("group commit of %d instances failed: %s", len(batch), type(exc).__name__)
            error = exc
        with self._cond:
            for w in batch:
                w.error = error
                w.done = True
            if error is None:
                self.batches += 1
                self.committed += len(batch)
            self._flushing = False
            self._cond.notify_all()

    def close(self) -> None:
        """Refuse new work; wait until a running flush has answered its callers."""
        with self._cond:
            self._closed = True
            while self._flushing:
                self._cond.wait()
