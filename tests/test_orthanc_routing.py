"""Auto-routing that retries (issue 18 item 9): a real Orthanc with deploy/orthanc/lipo_forward.py,
the node stopped while studies arrive, Orthanc restarted twice; every matching study reaches the
node exactly once when it comes back, and ``lipo-node orthanc status`` shows the pending state."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from peers import dcmtk_env, free_port
from pydicom.uid import generate_uid
from receive_helpers import OUR_AE, mr_slice, running_scp, wait_for, write

from node.dcmtk import dcmtk
from node.orthanc.admin import routing_status
from node.orthanc.local import LocalOrthanc, orthanc_available
from node.store import AuditKind

pytestmark = [pytest.mark.network,
              pytest.mark.skipif(not orthanc_available(), reason="Debian orthanc not installed")]
REPO = Path(__file__).resolve().parents[1]


def _study(folder: Path, modality: str, n: int) -> str:
    study, series = generate_uid(), generate_uid()
    for i in range(n):
        ds = mr_slice(study=study, series=series, index=i, size=16)
        ds.Modality = modality
        write(ds, folder / f"{i}.dcm")
    return study


def _client(orthanc: LocalOrthanc):
    from orthanc_api_client import OrthancApiClient

    return OrthancApiClient(orthanc.url)


def _pending(orthanc: LocalOrthanc) -> list:
    st = routing_status(_client(orthanc))
    return [] if st is None else st.pending


def _states(orthanc: LocalOrthanc) -> str:
    """Diagnostics for a failed wait: every study's routing metadata and the plugin report."""
    client = _client(orthanc)
    lines = []
    for sid in client.get_json("studies"):
        try:
            lines.append(f"{sid}: {client.get(f'studies/{sid}/metadata/LipoNodeRouting').text}")
        except Exception as exc:
            lines.append(f"{sid}: {type(exc).__name__}")
    lines.append(client.get("lipo-node/routing").text)
    return "\n".join(lines)


def test_studies_sent_while_the_node_is_down_arrive_once_after_restarts(tmp_path: Path):
    node_port = free_port()
    orthanc = LocalOrthanc(tmp_path / "orthanc")
    orthanc.configure(node_aet=OUR_AE, node_port=node_port, forward=True, stable_age_s=1,
                      routing={"RetryBaseSeconds": 1, "RetryMaxSeconds": 2, "SweepSeconds": 1})
    sizes = {"a": 3, "b": 2}
    studies = {k: _study(tmp_path / "in" / k, "MR", n) for k, n in sizes.items()}
    ct = _study(tmp_path / "in" / "ct", "CT", 2)  # not matching the MR filter: never routed
    orthanc.start()
    try:
        for k in (*sizes, "ct"):
            files = sorted(str(p) for p in (tmp_path / "in" / k).glob("*.dcm"))
            sent = subprocess.run([dcmtk("storescu"), "-aet", "MODALITY", "-aec", "ORTHANC", "127.0.0.1",
                                   str(orthanc.dicom_port), *files], env=dcmtk_env(), capture_output=True,
                                  timeout=60)
            assert sent.returncode == 0, sent.stderr
        # node down: both MR studies pending with failed attempts, visible to the admin
        assert wait_for(lambda: len([p for p in _pending(orthanc) if p.attempts >= 1]) == 2, timeout_s=40)
        cfg = tmp_path / "node.yaml"
        cfg.write_text(json.dumps({"data_dir": str(tmp_path / "cli"),
                                   "orthanc": {"url": orthanc.url}}))
        shown = subprocess.run([sys.executable, "-m", "node.cli", "--config", str(cfg), "orthanc", "status"],
                               cwd=REPO, capture_output=True, text=True, timeout=60)
        assert "2 waiting/pending" in shown.stdout and "attempts=" in shown.stdout, shown.stdout[-2000:]
        # Orthanc restarts while the node is still down: the pending state survives
        orthanc.stop()
        orthanc.start()
        assert wait_for(lambda: len(_pending(orthanc)) == 2, timeout_s=20), _states(orthanc)
        with running_scp(tmp_path / "node", port=node_port) as scp:
            expected = sum(sizes.values())
            assert wait_for(lambda: len(scp.records) == expected, timeout_s=60), len(scp.records)
            assert wait_for(lambda: _pending(orthanc) == [], timeout_s=20)
            # a further Orthanc restart and several sweeps later: nothing is sent again
            orthanc.stop()
            orthanc.start()
            time.sleep(4)
            got = {}
            for r in scp.records:
                got[r.study_uid] = got.get(r.study_uid, 0) + 1
            assert got == {studies[k]: n for k, n in sizes.items()}
            assert ct not in got
            carried = sum(e.instances for e in scp.store.audit_events(AuditKind.ASSOCIATION)
                          if e.calling_ae == "ORTHANC")
            assert carried == expected  # each instance sent once, no duplicate re-sends
    finally:
        orthanc.stop()
