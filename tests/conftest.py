"""Shared fixtures. Peers are real processes on 127.0.0.1 (see tests/peers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import Orthanc, free_port, running_orthanc

from node.orthanc.local import LocalOrthanc, orthanc_available

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _fixture_study() -> Path:
    for cand in (REPO / "tests" / "data" / "siemens_mr_study", SHARED / "fixtures" / "siemens_mr_study"):
        if cand.is_dir():
            return cand
    raise FileNotFoundError("siemens_mr_study fixture not found")


@pytest.fixture(scope="session")
def siemens_study() -> Path:
    """Real Siemens scanner study (BSD-2): 3_t1_fl2d_sag (35 instances) + a DWI series."""
    return _fixture_study()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    with running_orthanc(tmp_path / "orthanc") as o:
        yield o


@pytest.fixture
def pacs(tmp_path: Path) -> Iterator[LocalOrthanc]:
    """A real Orthanc as the PACS the worklist tests deliver to (no auto-routing)."""
    if not orthanc_available():
        pytest.fail("Debian orthanc + orthanc-dicomweb are required (deploy/install.sh installs them)")
    orthanc = LocalOrthanc(tmp_path / "orthanc")
    orthanc.configure(node_aet="LIPO_NODE", node_port=free_port(), forward=False)
    orthanc.start()
    try:
        yield orthanc
    finally:
        orthanc.stop()
