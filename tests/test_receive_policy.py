"""Association policy (AE titles, hosts, association limit) and DICOM TLS, with real peers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from peers import dcmtk_env
from pydicom.uid import MRImageStorage
from pynetdicom import AE
from receive_helpers import OUR_AE, SCU_AE, mr_slice, running_scp, storescu, wait_for, write

from node.dcmtk import dcmtk
from node.receive.config import TlsConfig
from node.store import AuditKind, AuditResult

REPO = Path(__file__).resolve().parents[1]


def _associate(port: int, calling: str, called: str = OUR_AE):
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.network_timeout = 10
    ae.add_requested_context(MRImageStorage)
    return ae.associate("127.0.0.1", port, ae_title=called)


def _reject_triple(assoc) -> tuple[int, int, int]:
    rsp = assoc.acceptor.primitive
    return (rsp.result, rsp.result_source, rsp.diagnostic)


def _rejections(store) -> list:
    return [e for e in store.audit_events(AuditKind.ASSOCIATION) if e.result == AuditResult.REJECTED]


def test_unknown_calling_ae_is_rejected_permanently_reason_3(tmp_path: Path):
    with running_scp(tmp_path) as scp:
        assoc = _associate(scp.port, "INTRUDER")
        assert assoc.is_rejected
        # PS3.8 9.3.4: rejected-permanent, DICOM UL service-user, calling-AE-title-not-recognized
        assert _reject_triple(assoc) == (1, 1, 3)
        proc = storescu(scp.port, write(mr_slice(), tmp_path / "f" / "a.dcm"), aet="ALSO_UNKNOWN")
        assert proc.returncode != 0 and "Calling AE Title Not Recognized" in proc.stderr
        audits = wait_for(lambda: len(_rejections(scp.store)) >= 2 and _rejections(scp.store))
        assert {a.calling_ae for a in audits} == {"INTRUDER", "ALSO_UNKNOWN"}
        assert all(a.detail == "calling_ae_not_recognised" for a in audits)
        assert scp.store.study_uids() == []


def test_allowed_ae_from_a_host_it_may_not_use_is_rejected(tmp_path: Path):
    with running_scp(tmp_path, allowed_callers={SCU_AE: ["127.0.0.2"]}) as scp:
        assoc = _associate(scp.port, SCU_AE)
        assert assoc.is_rejected and _reject_triple(assoc) == (1, 1, 3)
        (audit,) = wait_for(lambda: _rejections(scp.store))
        assert (audit.calling_ae, audit.host) == (SCU_AE, "127.0.0.1")


def test_allowed_ae_from_an_allowed_network_is_accepted(tmp_path: Path):
    with running_scp(tmp_path, allowed_callers={SCU_AE: ["127.0.0.0/8"]}) as scp:
        assoc = _associate(scp.port, SCU_AE)
        assert assoc.is_established
        assoc.release()


def test_wrong_called_ae_is_rejected_reason_7(tmp_path: Path):
    with running_scp(tmp_path) as scp:
        assoc = _associate(scp.port, SCU_AE, called="SOMEONE_ELSE")
        assert assoc.is_rejected and _reject_triple(assoc) == (1, 1, 7)


def test_twenty_concurrent_associations_then_local_limit(tmp_path: Path):
    with running_scp(tmp_path, max_associations=20) as scp:
        open_ = [_associate(scp.port, SCU_AE) for _ in range(20)]
        try:
            assert all(a.is_established for a in open_)
            extra = _associate(scp.port, SCU_AE)
            # PS3.8 9.3.4: rejected-transient, service-provider (presentation), local-limit-exceeded
            assert extra.is_rejected and _reject_triple(extra) == (2, 3, 2)
        finally:
            for a in open_:
                a.release()


# -- TLS --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    subprocess.run([str(REPO / "deploy" / "make_certs.sh"), str(folder)], check=True,
                   capture_output=True, timeout=60)
    return folder


def _tls_storescu(port: int, path: Path, *tls: str) -> subprocess.CompletedProcess:
    cmd = [dcmtk("storescu"), "-aet", SCU_AE, "-aec", OUR_AE, *tls, "127.0.0.1", str(port), str(path)]
    return subprocess.run(cmd, env=dcmtk_env(), capture_output=True, text=True, timeout=30)


def test_tls_with_client_certificate_is_accepted_and_plain_tcp_refused(tmp_path: Path, certs: Path):
    tls = TlsConfig(cert_file=certs / "server.pem", key_file=certs / "server.key", ca_file=certs / "ca.pem")
    client = ("+tls", str(certs / "client.key"), str(certs / "client.pem"), "+cf", str(certs / "ca.pem"))
    first = write(mr_slice(), tmp_path / "in" / "a.dcm")
    second = write(mr_slice(), tmp_path / "in" / "b.dcm")
    with running_scp(tmp_path / "node", tls=tls) as scp:
        plain = _tls_storescu(scp.port, first)
        assert plain.returncode != 0
        anonymous = _tls_storescu(scp.port, first, "+tla", "+cf", str(certs / "ca.pem"))
        assert anonymous.returncode != 0  # no client certificate while a CA is configured
        assert scp.store.study_uids() == []
        ok = _tls_storescu(scp.port, first, *client)
        assert ok.returncode == 0, ok.stderr
        ok2 = _tls_storescu(scp.port, second, *client)  # still serving after the refusals
        assert ok2.returncode == 0, ok2.stderr
        assert len(scp.records) == 2
