"""The one atomic file writer: every stage output and ``result.json`` goes through here.

A reader (another stage, the worklist, a crashed-and-restarted runner) must see either the old
file or the complete new one, never a half-written one, and a file that a write returned for
must survive a power cut. So: write a temporary file in the same folder, fsync it, rename it
over the target (POSIX rename is atomic), fsync the folder (ext4/xfs need it for the rename to
be durable). The store's spool has its own writer (:mod:`node.store.spool`) because it batches
folder fsyncs per association; everything else uses this module.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import SimpleITK as sitk  # noqa: N813 (the library's own convention)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_with(path: Path, write: Callable[[Path], Any]) -> Path:
    """Let ``write(tmp)`` fill a temporary file, then make it ``path`` atomically and durably.

    The temporary name keeps the target's suffixes (``.nii.gz``, ``.dcm``) because writers such
    as SimpleITK choose the format from them; it starts with a dot so folder listings skip it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:])
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return write_with(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_image(path: Path, image: sitk.Image, *, compress: bool = True) -> Path:
    """A SimpleITK image (format from the suffix, e.g. ``.nii.gz``)."""
    import SimpleITK as sitk  # noqa: N813 (the library's own convention)

    return write_with(path, lambda tmp: sitk.WriteImage(image, str(tmp), useCompression=compress))
