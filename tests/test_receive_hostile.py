"""The receiver under hostile traffic (issue 18 items 1-4, 6-8): raw sockets and dcmtk peers."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pydicom
import pytest
from hostile_helpers import (
    associate_rq,
    command_set,
    connect,
    echo_seconds,
    p_data,
    read_pdu,
)
from peers import dcmtk_env
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from receive_helpers import OUR_AE, SCU_AE, mr_slice, pynetdicom_send, running_scp, storescu, wait_for, write

from node.dcmtk import dcmtk
from node.receive.config import TlsConfig
from node.store import AuditKind, AuditResult, Store
from node.store.config import StoreConfig

REPO = Path(__file__).resolve().parents[1]
A_ASSOCIATE_AC, A_ABORT = 0x02, 0x07


def _refusals(store: Store) -> list[str]:
    return [e.detail for e in store.audit_events(AuditKind.ASSOCIATION)
            if e.result == AuditResult.REJECTED]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# -- 1. TLS handshake off the accept thread ---------------------------------------------------
@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    subprocess.run([str(REPO / "deploy" / "make_certs.sh"), str(folder)], check=True,
                   capture_output=True, timeout=60)
    return folder


def test_idle_tcp_peer_does_not_stall_tls_and_failed_handshakes_are_audited(tmp_path: Path, certs: Path):
    tls = TlsConfig(cert_file=certs / "server.pem", key_file=certs / "server.key", ca_file=certs / "ca.pem")
    client = ("+tls", str(certs / "client.key"), str(certs / "client.pem"), "+cf", str(certs / "ca.pem"))
    path = write(mr_slice(), tmp_path / "in" / "a.dcm")
    with running_scp(tmp_path / "node", tls=tls, association_request_timeout_s=1.5) as scp:
        idle = [connect(scp.port) for _ in range(3)]  # TCP open, never a ClientHello
        try:
            start = time.monotonic()
            cmd = [dcmtk("storescu"), "-aet", SCU_AE, "-aec", OUR_AE, *client, "127.0.0.1",
                   str(scp.port), str(path)]
            ok = subprocess.run(cmd, env=dcmtk_env(), capture_output=True, text=True, timeout=30)
            assert ok.returncode == 0, ok.stderr
            assert time.monotonic() - start < 5.0  # not queued behind the idle peers
            junk = connect(scp.port)
            junk.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not TLS at all
            assert wait_for(lambda: sum(d.startswith("tls_handshake_failed") for d in _refusals(scp.store)))
            assert wait_for(lambda: sum(d == "tls_handshake_timeout" for d in _refusals(scp.store)) >= 3,
                            timeout_s=10)
            junk.close()
        finally:
            for s in idle:
                s.close()
        assert len(scp.records) == 1


# -- 2. a slot is held only by an association ------------------------------------------------
def test_junk_slowloris_and_half_open_floods_hold_no_slot(tmp_path: Path):
    with running_scp(tmp_path / "node", max_associations=2, max_pending_connections=10,
                     association_request_timeout_s=2.0) as scp:
        for _ in range(30):  # six junk bytes then close: the slot-exhaustion recipe
            s = connect(scp.port)
            s.sendall(b"\x01\x00\x00\x00\x00\x10")
            s.close()
        half_open = [connect(scp.port) for _ in range(60)]  # more than the pending cap
        slow = connect(scp.port)
        rq = associate_rq()
        stop = threading.Event()

        def trickle() -> None:  # slowloris: one byte of a valid request every 0.2 s
            for b in rq:
                if stop.wait(0.2):
                    return
                try:
                    slow.sendall(bytes([b]))
                except OSError:
                    return

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        try:
            for _ in range(5):
                took = echo_seconds(scp.port)
                assert took is not None and took < 2.0, took
            # storescu, twice at once, both get in (2 slots, none held by the junk)
            files = [write(mr_slice(), tmp_path / "in" / f"{i}" / "x.dcm") for i in range(2)]
            procs = [subprocess.Popen([dcmtk("storescu"), "-aet", SCU_AE, "-aec", OUR_AE,
                                       "127.0.0.1", str(scp.port), str(f)], env=dcmtk_env(),
                                      stderr=subprocess.PIPE) for f in files]
            assert [p.wait(timeout=30) for p in procs] == [0, 0]
        finally:
            stop.set()
            for s in [*half_open, slow]:
                s.close()
        assert len(scp.records) == 2
        assert wait_for(lambda: {"no_association_request", "evicted_pre_association"}
                        <= set(_refusals(scp.store)))


def test_well_framed_but_garbled_association_requests_hold_no_slot(tmp_path: Path):
    """A-ASSOCIATE-RQs with a valid header and length but a body pynetdicom cannot decode used
    to end its DUL thread while the association thread waited acse_timeout (30 s) in a slot."""
    rq = bytearray(associate_rq())
    with running_scp(tmp_path / "node", max_associations=2) as scp:
        for i in range(20):
            bad = bytearray(rq)
            bad[10 + i % 16] = 0xC3  # inside the called/calling AE titles: not ASCII
            bad[80] = 0x99  # and the first item type
            s = connect(scp.port)
            s.sendall(bytes(bad))
            got = read_pdu(s, 2)
            s.close()
            assert got is not None and got[0] == A_ABORT
        took = echo_seconds(scp.port)
        assert took is not None and took < 2.0
        assert wait_for(lambda: _refusals(scp.store).count("invalid_association_request") == 20)


# -- 3. PDU lengths bounded before buffering -------------------------------------------------
def test_huge_associate_rq_is_refused_before_it_is_buffered(tmp_path: Path):
    with running_scp(tmp_path / "node") as scp:
        before = _rss_mb()
        s = connect(scp.port)
        s.sendall(struct.pack(">BBL", 0x01, 0x00, 0xFFFFFFF0))  # announces ~4 GiB
        sent = 0
        chunk = b"\0" * (1 << 20)
        with pytest.raises(OSError):  # reset/broken pipe long before 400 MB are taken
            s.settimeout(5)
            while sent < 400 * (1 << 20):
                s.sendall(chunk)
                sent += len(chunk)
        s.close()
        assert sent < 64 * (1 << 20)
        assert _rss_mb() - before < 40
        assert wait_for(lambda: "association_request_length" in _refusals(scp.store))
        assert echo_seconds(scp.port) is not None


def _raw_association(port: int) -> socket.socket:
    s = connect(port)
    s.sendall(associate_rq())
    got = read_pdu(s, 5)
    assert got is not None and got[0] == A_ASSOCIATE_AC
    return s


@pytest.mark.parametrize("announced", [65536 + 4096, 0xFFFFFFF0])
def test_p_data_longer_than_our_maximum_is_aborted_unread(tmp_path: Path, announced: int):
    with running_scp(tmp_path / "node", max_pdu_bytes=65536) as scp:
        before = _rss_mb()
        s = _raw_association(scp.port)
        s.sendall(struct.pack(">BBL", 0x04, 0x00, announced))
        got = read_pdu(s, 3)
        assert got is not None and got[0] == A_ABORT
        s.close()
        assert _rss_mb() - before < 40  # nothing of the announced size was allocated
        assert echo_seconds(scp.port) is not None


# -- 6. malformed command sets answered at once ----------------------------------------------
@pytest.mark.parametrize("elements", [
    {"AffectedSOPClassUID": "1.2.840.10008.1.1", "CommandField": 0x0030, "CommandDataSetType": 0x0101},
    {"CommandField": 0x0030, "MessageID": 7, "CommandDataSetType": 0x0101},
    {"AffectedSOPClassUID": MRImageStorage, "CommandField": 0x0001, "MessageID": 3,
     "Priority": 0, "CommandDataSetType": 0x0101},
    {"AffectedSOPClassUID": "1.2.840.10008.1.1", "CommandField": 0x0FF1, "MessageID": 9,
     "CommandDataSetType": 0x0101},
], ids=["echo_no_message_id", "echo_no_class", "store_no_instance_uid", "unknown_command_field"])
def test_malformed_command_set_gets_an_abort_at_once(tmp_path: Path, elements: dict):
    with running_scp(tmp_path / "node") as scp:
        s = _raw_association(scp.port)
        start = time.monotonic()
        s.sendall(p_data(1, command_set(**elements), command=True))
        got = read_pdu(s, 5)
        assert got is not None and got[0] == A_ABORT
        assert time.monotonic() - start < 2.0
        s.close()
        assert echo_seconds(scp.port) is not None


# -- 4. every stored object is decodable ------------------------------------------------------
def _patch(data: bytes, marker: bytes, new_length: bytes) -> bytes:
    at = data.index(marker)
    return data[: at + len(marker)] + new_length + data[at + len(marker) + len(new_length):]


def _broken_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def save(name: str, ds: pydicom.Dataset, *, meta_uid: str | None = None) -> Path:
        path = folder / f"{name}.dcm"
        write(ds, path)
        if meta_uid is not None:  # command UID (from file meta) differs from the data set's
            ds.file_meta.MediaStorageSOPInstanceUID = meta_uid
            ds.preamble = b"\0" * 128
            pydicom.dcmwrite(path, ds, enforce_file_format=False)
        out[name] = path
        return path

    p = save("pixel_length_lie", mr_slice())
    p.write_bytes(_patch(p.read_bytes(), b"\xe0\x7f\x10\x00OW\x00\x00", struct.pack("<L", 0x10000000)))
    p = save("columns_swallow", mr_slice(size=256))
    p.write_bytes(_patch(p.read_bytes(), b"\x28\x00\x11\x00US", struct.pack("<H", 0xFFFE)))
    for name, kw, value in [("spp0", "SamplesPerPixel", 0), ("bits7", "BitsAllocated", 7),
                            ("frames0", "NumberOfFrames", 0)]:
        ds = mr_slice()
        setattr(ds, kw, value)
        save(name, ds)
    ds = mr_slice()
    for kw in ("PixelData", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit",
               "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation"):
        delattr(ds, kw)
    save("no_pixel_module", ds)
    ds = mr_slice()
    ds.PixelData = ds.PixelData * 5
    save("pixels_5x", ds)
    ds = mr_slice()
    del ds.PatientName
    ds.add_new(0x00100010, "UL", 1234)
    save("patient_name_ul", ds)
    save("uid_mismatch", mr_slice(), meta_uid=generate_uid())
    return out


def test_invalid_objects_are_refused_and_nothing_is_stored(tmp_path: Path):
    files = _broken_files(tmp_path / "in")
    with running_scp(tmp_path / "node") as scp:
        statuses = pynetdicom_send(scp.port, list(files.values()),
                                   contexts=[(MRImageStorage, ExplicitVRLittleEndian)])
        by_name = dict(zip(files, statuses, strict=True))
        for name, status in by_name.items():
            assert status is not None and (status == 0xA900 or 0xC200 <= status <= 0xC2FF), (name, status)
        assert by_name["uid_mismatch"] == 0xC213
        assert by_name["pixels_5x"] == 0xC212
        assert scp.records == [] and scp.store.study_uids() == []
        assert list((tmp_path / "node" / "spool").rglob("*.dcm")) == []
        failed = [e for e in scp.store.audit_events(AuditKind.INSTANCE) if e.result == AuditResult.FAILED]
        assert len(failed) == len(files)
        assert echo_seconds(scp.port) is not None


# -- 7. audit row at acceptance; reconciliation at start ------------------------------------
def test_association_audit_row_exists_while_open_and_is_completed(tmp_path: Path):
    from pynetdicom import AE

    with running_scp(tmp_path / "node") as scp:
        ae = AE(ae_title=SCU_AE)
        ae.add_requested_context(MRImageStorage, ExplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", scp.port, ae_title=OUR_AE)
        assert assoc.is_established
        assert assoc.send_c_store(mr_slice()).Status == 0
        rows = scp.store.audit_events(AuditKind.ASSOCIATION)
        assert [r.result for r in rows] == [AuditResult.OPEN]
        assoc.release()
        assert wait_for(lambda: [r.result for r in scp.store.audit_events(AuditKind.ASSOCIATION)]
                        == [AuditResult.RELEASED])
        assert scp.store.audit_events(AuditKind.ASSOCIATION)[0].instances == 1


def test_start_up_reconciles_spool_index_and_open_associations(tmp_path: Path):
    node = tmp_path / "node"
    with running_scp(node) as scp:
        assert pynetdicom_send(scp.port, [mr_slice()]) == [0]
    store = Store(node / "node.sqlite3", node / "spool", StoreConfig(min_free_bytes=0))
    try:
        from node.receive.handlers import ReceiveContext  # noqa: F401  (same package path)
        from node.store import AuditEvent
        from node.store.spool import relative_path

        open_id = store.audit(AuditEvent(kind=AuditKind.ASSOCIATION, result=AuditResult.OPEN,
                                         calling_ae=SCU_AE))
        ds = mr_slice()
        store.store_instance(ds, transfer_syntax=str(ExplicitVRLittleEndian), calling_ae=SCU_AE,
                             association_id=open_id)
        orphan = mr_slice()
        rel = relative_path(orphan.StudyInstanceUID, orphan.SeriesInstanceUID, orphan.SOPInstanceUID)
        write(orphan, node / "spool" / rel)  # crash after rename, before the index commit
        junk = node / "spool" / "ab" / "cd" / "ef.dcm"
        junk.parent.mkdir(parents=True)
        junk.write_bytes(b"not dicom")
    finally:
        store.close()
    with running_scp(node) as scp:
        assert scp.store.get_instance(orphan.SOPInstanceUID) is not None
        assert not junk.exists()
        row = next(e for e in scp.store.audit_events(AuditKind.ASSOCIATION) if e.calling_ae == SCU_AE
                   and e.result == AuditResult.INTERRUPTED)
        assert row.instances == 1


# -- 8. 64 concurrent senders, no transient reject --------------------------------------------
def test_sixty_four_concurrent_storescu_senders_all_get_in(tmp_path: Path):
    senders = 64
    folders = []
    for i in range(senders):
        f = tmp_path / "in" / str(i)
        write(mr_slice(index=i), f / "a.dcm")
        folders.append(f)
    with running_scp(tmp_path / "node") as scp:
        before = _rss_mb()
        procs = [subprocess.Popen([dcmtk("storescu"), "-aet", SCU_AE, "-aec", OUR_AE, "+sd",
                                   "127.0.0.1", str(scp.port), str(f)], env=dcmtk_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for f in folders]
        codes = [p.wait(timeout=120) for p in procs]
        assert codes == [0] * senders, [p.stderr.read() for p in procs if p.returncode][:2]
        assert wait_for(lambda: len(scp.records) == senders)
        rejected = [e for e in scp.store.audit_events(AuditKind.ASSOCIATION)
                    if e.result == AuditResult.REJECTED]
        assert rejected == []
        assert _rss_mb() - before < 300
    assert storescu  # the helper stays the one used elsewhere
