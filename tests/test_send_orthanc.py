"""Outbox against a real Orthanc: C-STORE + C-FIND, STOW-RS + QIDO-RS, outages, crashes."""

from __future__ import annotations

import io
import shutil
import subprocess
import textwrap
from pathlib import Path

import httpx
import pydicom
import pytest
from peers import Orthanc, free_port, running_orthanc
from report_helpers import make_result

from node.send import DicomDestination, DicomWebDestination, ItemState, Outbox, SendConfig, sender_for
from node.send.outbox import instance_refs, outbox_counts

SAG = "3_t1_fl2d_sag"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def result(siemens_study: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    seg, sr, _ = make_result(tmp_path_factory.mktemp("job"), siemens_study / SAG)
    return seg, sr


def _dest(kind: str, o: Orthanc, **kw: object) -> DicomDestination | DicomWebDestination:
    if kind == "dicom":
        return DicomDestination(name="pacs", host="127.0.0.1", port=o.dicom_port, ae_title=o.aet,
                                timeout_s=5, **kw)
    return DicomWebDestination(name="pacs", url=o.url + "/dicom-web", timeout_s=10, **kw)


def _outbox(tmp_path: Path, dest: object, **retry: float) -> Outbox:
    policy = {"base_delay_s": 10.0, "factor": 2.0, "max_delay_s": 60.0, "max_attempts": 5, **retry}
    return Outbox(tmp_path / "node.sqlite3", SendConfig(destinations=[dest], retry=policy))


def _instances(o: Orthanc) -> list[str]:
    with o.client() as c:
        return c.get("/instances").json()


def _read_back(o: Orthanc) -> dict[str, pydicom.Dataset]:
    out = {}
    with o.client() as c:
        for iid in c.get("/instances").json():
            ds = pydicom.dcmread(io.BytesIO(c.get(f"/instances/{iid}/file").content))
            out[ds.SOPInstanceUID] = ds
    return out


def _both(o: Orthanc) -> SendConfig:
    return SendConfig(destinations=[_dest("dicom", o).model_copy(update={"name": "pacs-dimse"}),
                                    _dest("dicomweb", o).model_copy(update={"name": "pacs-web"})],
                      retry={"base_delay_s": 10.0, "factor": 2.0, "max_delay_s": 60.0})


def test_result_is_delivered_confirmed_and_reads_back_equal(
    orthanc: Orthanc, result: tuple[Path, Path], tmp_path: Path
) -> None:
    seg, sr = result
    ours = {p: pydicom.dcmread(p) for p in (seg, sr)}
    seg_ds, sr_ds = ours[seg], ours[sr]
    ob = Outbox(tmp_path / "node.sqlite3", _both(orthanc))
    for n, name in enumerate(["pacs-dimse", "pacs-web"]):  # C-STORE + C-FIND, then STOW + QIDO
        item_id = ob.enqueue(f"job-{name}", [seg, sr], name)
        [item] = ob.process_due()
        assert item.id == item_id and item.state is ItemState.DELIVERED, item.last_error
        assert ob.status(f"job-{name}").overall is ItemState.DELIVERED
        back = _read_back(orthanc)
        assert set(back) == {d.SOPInstanceUID for d in ours.values()}
        assert back[seg_ds.SOPInstanceUID].PixelData == seg_ds.PixelData
        assert back[seg_ds.SOPInstanceUID].SegmentSequence[0].SegmentLabel == "Tumour"
        assert back[sr_ds.SOPInstanceUID].SeriesDescription == sr_ds.SeriesDescription
        assert back[sr_ds.SOPInstanceUID].ContentSequence == sr_ds.ContentSequence
        assert outbox_counts(tmp_path / "node.sqlite3")["delivered"] == n + 1
        with orthanc.client() as c:  # empty Orthanc for the next kind
            for iid in c.get("/instances").json():
                c.delete(f"/instances/{iid}")


def test_orthanc_down_during_delivery_result_arrives_once_when_back(
    orthanc: Orthanc, result: tuple[Path, Path], tmp_path: Path
) -> None:
    seg, sr = result
    ob = Outbox(tmp_path / "node.sqlite3", _both(orthanc))
    orthanc.stop()
    t0 = 1_000_000.0
    for name in ("pacs-dimse", "pacs-web"):
        ob.enqueue("job-1", [seg, sr], name, now=t0)
    first = ob.process_due(now=t0)
    assert [(i.state, i.attempts) for i in first] == [(ItemState.PENDING, 1)] * 2
    assert all(i.last_error and i.next_at == pytest.approx(t0 + 10.0) for i in first)
    assert ob.process_due(now=t0 + 5) == []  # backing off
    second = ob.process_due(now=t0 + 10)
    assert [i.attempts for i in second] == [2, 2]
    assert all(i.next_at == pytest.approx(t0 + 10 + 20.0) for i in second)
    orthanc.start()
    done = ob.process_due(now=t0 + 30)
    assert [i.state for i in done] == [ItemState.DELIVERED] * 2, [i.last_error for i in done]
    assert ob.status("job-1").overall is ItemState.DELIVERED
    assert ob.process_due(now=t0 + 10_000) == []
    # the same result queued again (e.g. a re-run job) is the same item: nothing new is sent
    assert ob.enqueue("job-1", [seg, sr], "pacs-web") == done[1].id
    assert ob.process_due(now=t0 + 20_000) == []
    assert len(_instances(orthanc)) == 2


def test_crash_between_send_and_confirm_is_confirmed_not_resent(
    orthanc: Orthanc, result: tuple[Path, Path], tmp_path: Path
) -> None:
    files = [shutil.copy(p, tmp_path / p.name) for p in result]
    dest = _dest("dicom", orthanc)
    ob = _outbox(tmp_path, dest)
    item_id = ob.enqueue("job-1", files, "pacs")
    # the send happened, then the node died before confirming: row is 'sent'
    sender_for(dest).send([Path(f) for f in files], instance_refs([Path(f) for f in files]))
    ob.conn.execute("UPDATE outbox SET state='sent' WHERE id=?", (item_id,))
    ob.close()
    for f in files:  # a resend would now fail: proves it is confirmed, not sent again
        Path(f).unlink()
    restarted = _outbox(tmp_path, dest)
    [item] = restarted.process_due()
    assert item.state is ItemState.DELIVERED and item.attempts == 0, item.last_error
    assert len(_instances(orthanc)) == 2


def test_sent_but_absent_after_crash_is_sent_again(
    orthanc: Orthanc, result: tuple[Path, Path], tmp_path: Path
) -> None:
    ob = _outbox(tmp_path, _dest("dicomweb", orthanc))
    item_id = ob.enqueue("job-1", list(result), "pacs")
    ob.conn.execute("UPDATE outbox SET state='sent' WHERE id=?", (item_id,))  # lost in transit
    [item] = ob.process_due()
    assert item.state is ItemState.DELIVERED, item.last_error
    assert len(_instances(orthanc)) == 2


def test_unreachable_destination_ends_in_dead_letter(result: tuple[Path, Path], tmp_path: Path) -> None:
    dest = DicomDestination(name="pacs", host="127.0.0.1", port=free_port(), ae_title="NOBODY", timeout_s=2)
    ob = _outbox(tmp_path, dest, max_attempts=3)
    item_id = ob.enqueue("job-9", list(result), "pacs", now=0.0)
    states = [ob.process_due(now=t)[0].state for t in (0.0, 10.0, 30.0)]
    assert states == [ItemState.PENDING, ItemState.PENDING, ItemState.DEAD]
    assert ob.process_due(now=1e9) == []
    [dead] = ob.dead_letters()
    assert dead.id == item_id and "association" in (dead.last_error or "")
    assert ob.status("job-9").overall is ItemState.DEAD
    assert ob.counts() == {"pending": 0, "sent": 0, "delivered": 0, "dead": 1}
    assert ob.requeue(item_id, now=5.0).state is ItemState.PENDING


AUTH_FILTER = textwrap.dedent('''
    import orthanc
    def allow(uri, **request):
        if uri == "/system":
            return True
        auth = request.get("headers", {}).get("authorization", "")
        return auth in ("Bearer s3cret-token", "Basic bGlwbzpzZWNyZXQ=")   # lipo:secret
    orthanc.RegisterIncomingHttpRequestFilter(allow)
''')


def test_stowrs_basic_and_bearer_auth_against_orthanc_that_checks_them(
    result: tuple[Path, Path], tmp_path: Path
) -> None:
    script = tmp_path / "auth.py"
    script.write_text(AUTH_FILTER)
    with running_orthanc(tmp_path / "o", python_script=script) as o:
        assert httpx.get(o.url + "/instances").status_code in (401, 403)  # the filter is live
        url = o.url + "/dicom-web"
        cases = {
            "wrong": DicomWebDestination(name="wrong", url=url, auth="bearer", token="nope"),
            "bearer": DicomWebDestination(name="bearer", url=url, auth="bearer", token="s3cret-token"),
            "basic": DicomWebDestination(name="basic", url=url, auth="basic", username="lipo",
                                         password="secret"),
        }
        ob = Outbox(tmp_path / "db.sqlite3", SendConfig(destinations=list(cases.values())))
        for name in cases:
            ob.enqueue(f"job-{name}", list(result), name)
        by_job = {i.job_id: i for i in ob.process_due()}
        assert by_job["job-wrong"].state is ItemState.PENDING
        assert "HTTP 40" in (by_job["job-wrong"].last_error or "")
        assert by_job["job-bearer"].state is ItemState.DELIVERED, by_job["job-bearer"].last_error
        assert by_job["job-basic"].state is ItemState.DELIVERED, by_job["job-basic"].last_error
        with httpx.Client(base_url=o.url, headers={"Authorization": "Bearer s3cret-token"}) as c:
            assert len(c.get("/instances").json()) == 2


def test_cstore_over_dicom_tls_to_orthanc(result: tuple[Path, Path], tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    subprocess.run(["bash", str(REPO / "deploy" / "make_certs.sh"), str(certs)], check=True, timeout=120)
    tls = {"DicomTlsEnabled": True, "DicomTlsCertificate": str(certs / "server.pem"),
           "DicomTlsPrivateKey": str(certs / "server.key"),
           "DicomTlsTrustedCertificates": str(certs / "ca.pem"),
           "DicomTlsRemoteCertificateRequired": True}
    with running_orthanc(tmp_path / "o", extra=tls) as o:
        plain = DicomDestination(name="plain", host="127.0.0.1", port=o.dicom_port, ae_title=o.aet,
                                 timeout_s=1)
        secure = DicomDestination(
            name="tls", host="127.0.0.1", port=o.dicom_port, ae_title=o.aet, timeout_s=10,
            tls={"ca_file": certs / "ca.pem", "cert_file": certs / "client.pem",
                 "key_file": certs / "client.key", "server_hostname": "localhost"})
        ob = Outbox(tmp_path / "db.sqlite3", SendConfig(destinations=[plain, secure]))
        ob.enqueue("job-plain", list(result), "plain")
        ob.enqueue("job-tls", list(result), "tls")
        by_job = {i.job_id: i for i in ob.process_due()}
        assert by_job["job-plain"].state is ItemState.PENDING  # Orthanc speaks TLS only
        assert by_job["job-tls"].state is ItemState.DELIVERED, by_job["job-tls"].last_error
        assert len(_instances(o)) == 2
