"""dcmtk peers must be dcmtk even when pynetdicom's same-named scripts come first on PATH."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from node.dcmtk import DcmtkNotFound, dcmtk


def test_a_python_storescu_first_on_path_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake = tmp_path / "storescu"
    fake.write_text("#!/usr/bin/env python3\nprint('pynetdicom look-alike')\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin")
    found = dcmtk.__wrapped__("storescu")
    assert found != str(fake)
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30).stdout
    assert "dcmtk" in version.lower()


def test_missing_tool_names_the_package(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(DcmtkNotFound, match="dcmtk"):
        dcmtk.__wrapped__("no-such-dcmtk-tool")
