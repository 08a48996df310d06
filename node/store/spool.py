"""Durable spool files: hashed paths, write-fsync-rename-fsync(dir).

Paths are built from SHA-256 digests of the UIDs, never from the UIDs themselves, so a hostile
UID cannot traverse out of the spool and every path has the same shape:
``<spool>/<study[:2]>/<study>/<series>/<sop>.dcm``. A file becomes visible under its final
name only by ``os.replace`` of a fully written and fsynced temporary file in the same folder,
followed by an fsync of that folder (and of any folder just created), so after a crash a file
either is complete or is not there (POSIX rename atomicity; ext4/xfs need the dir fsync).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from node.store.errors import OutOfSpace

SUFFIX = ".dcm"
PART_SUFFIX = ".part"


def uid_digest(uid: str) -> str:
    return hashlib.sha256(uid.encode("ascii", "replace")).hexdigest()


def relative_path(study_uid: str, series_uid: str, sop_instance_uid: str) -> Path:
    """Spool-relative path of an instance; only hex digests, no caller-controlled text."""
    study = uid_digest(study_uid)
    return Path(study[:2], study, uid_digest(series_uid), uid_digest(sop_instance_uid) + SUFFIX)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: file systems whose fsync of a renamed file also makes the rename durable (see
#: :meth:`Spool.place_synced`); anything else (NFS, overlay, tmpfs, ...) gets the folder fsync
_JOURNALED = {"ext4", "xfs", "btrfs"}


def filesystem_type(path: Path) -> str:
    """Type of the file system holding ``path`` (longest mount point in /proc/self/mountinfo)."""
    target = str(Path(path).resolve())
    best, kind = "", ""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        mount = fields[4].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, right.split()[0]
    return kind


def journaled_rename(path: Path) -> bool:
    return filesystem_type(path) in _JOURNALED


def _write_all(fd: int, buffers: Sequence[bytes | bytearray | memoryview]) -> None:
    views = [memoryview(b) for b in buffers if len(b)]
    while views:
        n = os.writev(fd, views)
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if views and n:
            views[0] = views[0][n:]


def fsync_files_and_folders(paths: Sequence[Path]) -> None:
    """Durable without syncfs: each file, then each folder that gained one (POSIX)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for folder in dict.fromkeys(p.parent for p in paths):
        _fsync_dir(folder)


class Spool:
    """Writes files under ``root``; the only code that creates files in the spool."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._known_dirs: set[Path] = set()
        self._dir_lock = threading.Lock()

    def _ensure_dir(self, folder: Path) -> None:
        """Create ``folder`` and fsync each parent that gained an entry (durable mkdir -p)."""
        if folder in self._known_dirs:
            return
        with self._dir_lock:
            missing: list[Path] = []
            cur = folder
            while cur != self.root and not cur.is_dir():
                missing.append(cur)
                cur = cur.parent
            for d in reversed(missing):
                d.mkdir(exist_ok=True)
                _fsync_dir(d.parent)
            self._known_dirs.add(folder)

    def place_synced(self, rel: Path, data: bytes) -> Path:
        """Write to a temporary file, rename it to ``root/rel``, then fsync it: one fsync.

        Durable without a folder fsync only on a file system whose journal commits a rename
        together with the renamed inode (:func:`journaled_rename`): the rename updates the
        inode's ctime, so fsync of the inode waits for the journal transaction that holds the
        new directory entry (ext4 with a journal, XFS, btrfs). Elsewhere use :meth:`place` +
        :meth:`sync_dir`.
        """
        return self._place(rel, data, fsync="after_rename")

    def place_unsynced(self, rel: Path, data: bytes | Sequence[bytes]) -> Path:
        """Write to a temporary file and rename it to ``root/rel``, syncing nothing: the
        caller makes it durable (group commit, :mod:`node.store.commit`) before it tells
        anyone. ``data`` may be several buffers (written with one ``writev``, not joined)."""
        return self._place(rel, data, fsync="none")

    def place(self, rel: Path, data: bytes) -> Path:
        """Write ``data`` to a temporary file, fsync it, rename it to ``root/rel``.

        The rename is atomic but only durable after :meth:`sync_dir` of the folder. Raises
        :class:`OutOfSpace` when the file system is full (ENOSPC/EDQUOT); the temporary file is
        removed so a refused instance leaves nothing behind.
        """
        return self._place(rel, data, fsync="before_rename")

    def _place(self, rel: Path, data: bytes | Sequence[bytes],
               fsync: Literal["before_rename", "after_rename", "none"]) -> Path:
        """The one write path of the three above; whatever fails, nothing is left that could
        be mistaken for an acknowledged instance (the temporary or the renamed file goes)."""
        final = self.root / rel
        self._ensure_dir(final.parent)
        tmp = final.parent / f".{final.stem}.{uuid.uuid4().hex}{PART_SUFFIX}"
        renamed = False
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                _write_all(fd, [data] if isinstance(data, bytes | bytearray | memoryview) else data)
                if fsync == "before_rename":
                    os.fsync(fd)
                os.replace(tmp, final)
                renamed = True
                if fsync == "after_rename":
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            (final if renamed else tmp).unlink(missing_ok=True)  # never acknowledged
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise OutOfSpace(f"spool file system full writing {rel}") from exc
            raise
        return final

    @staticmethod
    def sync_dir(folder: Path) -> None:
        """Make the renames in ``folder`` durable (fsync of the directory)."""
        _fsync_dir(folder)

    def write(self, rel: Path, data: bytes) -> Path:
        """Durably place ``data`` at ``root/rel`` (file fsync, rename, folder fsync)."""
        final = self.place(rel, data)
        self.sync_dir(final.parent)
        return final

    def free_bytes(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def remove_partials(self, older_than_s: float = 600.0) -> int:
        """Delete temporary files left by a crash (never acknowledged); returns how many.

        Only files older than ``older_than_s`` go, so a writer in another process (pull mode,
        a second SCP) never loses a file it is still writing.
        """
        count = 0
        cutoff = time.time() - older_than_s
        for part in self.root.rglob(f".*{PART_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    count += 1
        return count
