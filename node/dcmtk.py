"""Find dcmtk's command-line tools by absolute path.

pynetdicom 3 installs console scripts named ``storescu``, ``storescp``, ``findscu``,
``echoscu``, ``getscu`` and ``movescu`` into the virtual environment's ``bin``. With the venv
first on ``PATH`` a bare ``storescu`` runs pynetdicom's app, whose options differ from dcmtk's,
and a benchmark or test meant to use dcmtk as the foreign peer would quietly test us against
ourselves. dcmtk ships native executables, so anything that is a script (``#!``) is skipped.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


class DcmtkNotFound(FileNotFoundError):
    """dcmtk is not installed (``apt install dcmtk``) or only look-alike scripts are on PATH."""


def _is_native(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(2) != b"#!"
    except OSError:
        return False


@cache
def dcmtk(tool: str) -> str:
    """Absolute path of the dcmtk executable ``tool`` (e.g. ``"storescu"``)."""
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]:
        candidate = Path(folder or ".") / tool
        if candidate.is_file() and os.access(candidate, os.X_OK) and _is_native(candidate):
            return str(candidate.resolve())
    raise DcmtkNotFound(f"dcmtk {tool!r} not found on PATH (install the Debian package 'dcmtk')")
