"""A real Orthanc pushes the Siemens study to our SCP (C-STORE SCU = Orthanc)."""

from __future__ import annotations

from pathlib import Path

from peers import running_orthanc
from receive_helpers import running_scp, wait_for

from node.store import AuditKind, AuditResult


def test_orthanc_pushes_the_siemens_study(tmp_path: Path, siemens_study: Path):
    files = sorted(siemens_study.rglob("*.dcm"))
    with running_scp(tmp_path / "node") as scp:
        modalities = {"lipo": ("LIPO_NODE", "127.0.0.1", scp.port)}
        with running_orthanc(tmp_path / "orthanc", modalities=modalities) as orthanc, \
                orthanc.client() as http:
            for f in files:
                r = http.post("/instances", content=f.read_bytes())
                assert r.status_code == 200, r.text
            (study_id,) = http.get("/studies").json()
            r = http.post("/modalities/lipo/store", json={"Resources": [study_id], "Synchronous": True})
            assert r.status_code == 200, r.text
        (study,) = scp.store.study_uids()
        records = scp.store.study_instances(study)
        assert len(records) == len(files) >= 35
        assert {r.calling_ae for r in records} == {"ORTHANC"}
        assert all(r.path.is_file() for r in records)
        audits = wait_for(lambda: [a for a in scp.store.audit_events(AuditKind.ASSOCIATION)
                                   if a.result == AuditResult.RELEASED])
        assert sum(a.instances for a in audits) == len(files)
