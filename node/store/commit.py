"""Group commit: the instances written by every association made durable by one flush.

Each C-STORE handler writes its file and renames it into place without syncing, hands it to
the :class:`GroupCommitter` and waits. The committer thread takes *everything* waiting, makes
it durable with one flush of the spool's file system (:func:`syncfs`: one journal commit for
the whole batch, where a per-file fsync costs one commit each), commits the batch's index rows
in one SQLite transaction and only then wakes the handlers, so each C-STORE-RSP still follows
the durability of its own instance (ARCHITECTURE.md, ack after fsync). While one batch
flushes, the next one gathers: with K associations sending, a flush serves up to K instances.

A crash between the rename and the index commit leaves a complete, never acknowledged file
without a row; :meth:`node.store.Store.reconcile` indexes it at the next start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommitter:
    """One thread that flushes and indexes batches; :meth:`commit` blocks until its item is
    durable and indexed (or raises the error that stopped its batch)."""

    def __init__(self, flush: Callable[[Sequence[Path]], None],
                 index: Callable[[Sequence[tuple[Any, ...]]], None], max_batch: int = 512) -> None:
        self._flush = flush
        self._index = index
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Waiter] = []
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: batches flushed and instances in them (for the bench and tests)
        self.batches = 0
        self.committed = 0

    def commit(self, path: Path, row: tuple[Any, ...]) -> None:
        waiter = _Waiter(path, row)
        with self._cond:
            if self._stopping:
                raise OSError("the store is closing")
            if self._thread is None:  # started on first use: a read-only Store has no thread
                self._thread = threading.Thread(target=self._run, name="spool-group-commit",
                                                daemon=True)
                self._thread.start()
            self._queue.append(waiter)
            self._cond.notify()
        waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:  # stopping, nothing left
                    return
                batch = self._queue[:self._max_batch]
                del self._queue[:self._max_batch]
            error: BaseException | None = None
            try:
                self._flush([w.path for w in batch])
                self._index([w.row for w in batch])
            except BaseException as exc:  # every waiter must hear about it
                log.error("group commit of %d instances failed: %s", len(batch), type(exc).__name__)
                error = exc
            else:
                self.batches += 1
                self.committed += len(batch)
            for w in batch:
                w.error = error
                w.done.set()
