"""Malformed input gets a failure status and an audit row; the SCP keeps serving."""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage
from pynetdicom import AE
from receive_helpers import mr_slice, pynetdicom_send, running_scp, write

from node.store import AuditKind, AuditResult
from node.store.config import StoreConfig


def _meta_end(path: Path) -> int:
    """Offset of the data set: preamble + 'DICM' + the whole file meta group (PS3.10 7.1)."""
    meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
    return 128 + 4 + 12 + int(meta.FileMetaInformationGroupLength)


def _random_body(path: Path) -> Path:
    write(mr_slice(), path)
    head = path.read_bytes()[: _meta_end(path)]
    path.write_bytes(head + os.urandom(4096))
    return path


def _lying_header(path: Path) -> Path:
    """File meta says Explicit VR LE, the data set is encoded Implicit VR LE."""
    ds = mr_slice()
    write(ds, path)
    head = path.read_bytes()[: _meta_end(path)]
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, True
    write_dataset(body, ds)
    path.write_bytes(head + body.getvalue())
    return path


def _truncated(path: Path) -> Path:
    write(mr_slice(size=128), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 5000])  # cut inside Pixel Data
    return path


def _keep_meta(ds: pydicom.Dataset, path: Path) -> Path:
    """Write with the file meta as given (MR), not re-derived from the data set (CT)."""
    ds.preamble = b"\0" * 128
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    pydicom.dcmwrite(path, ds, enforce_file_format=False)
    assert pydicom.dcmread(path).file_meta.MediaStorageSOPClassUID == MRImageStorage
    return path


def _is_cannot_understand(status: int | None) -> bool:
    return status is not None and 0xC000 <= status <= 0xCFFF  # PS3.4 B.2.3 Error: Cxxx


def _instance_failures(store) -> list:
    return [e for e in store.audit_events(AuditKind.INSTANCE) if e.result == AuditResult.FAILED]


def test_malformed_instances_fail_and_scp_keeps_serving(tmp_path: Path):
    no_study = mr_slice()
    del no_study.StudyInstanceUID
    wrong_class = mr_slice()
    wrong_class.SOPClassUID = CTImageStorage  # file meta still says MR Image Storage
    good = mr_slice()
    items = [
        _random_body(tmp_path / "in" / "random.dcm"),
        _truncated(tmp_path / "in" / "truncated.dcm"),
        _lying_header(tmp_path / "in" / "implicit_as_explicit.dcm"),
        write(no_study, tmp_path / "in" / "no_study.dcm"),
        _keep_meta(wrong_class, tmp_path / "in" / "wrong_class.dcm"),
        write(good, tmp_path / "in" / "good.dcm"),
    ]
    with running_scp(tmp_path / "node") as scp:
        statuses = pynetdicom_send(scp.port, items, contexts=[(MRImageStorage, ExplicitVRLittleEndian)])
        random_, truncated, lying, missing, mismatch, ok = statuses
        assert _is_cannot_understand(random_)
        assert truncated == 0xC212  # pixel data shorter than Rows x Columns x 2
        assert lying == 0xC210  # parses only as implicit VR: the header lies
        assert missing == 0xC211
        assert mismatch == 0xA900  # PS3.4 B.2.3 Data Set does not match SOP Class
        assert ok == 0x0000
        assert [r.sop_instance_uid for r in scp.records] == [good.SOPInstanceUID]
        failures = _instance_failures(scp.store)
        assert sorted(f.status for f in failures) == sorted(statuses[:5])
        assert all(f.calling_ae == "STORESCU" and f.detail for f in failures)
        # only the good instance reached the spool
        assert len([p for p in (tmp_path / "node" / "spool").rglob("*") if p.is_file()]) == 1
        # a second association after all that is served normally
        assert pynetdicom_send(scp.port, [mr_slice()]) == [0x0000]


def test_sop_class_not_offered_is_refused_at_negotiation(tmp_path: Path):
    with running_scp(tmp_path) as scp:
        ae = AE(ae_title="STORESCU")
        ae.add_requested_context(CTImageStorage)
        ae.add_requested_context(MRImageStorage)
        assoc = ae.associate("127.0.0.1", scp.port, ae_title="LIPO_NODE")
        try:
            assert assoc.is_established
            assert [cx.abstract_syntax for cx in assoc.rejected_contexts] == [CTImageStorage]
            ct = mr_slice(sop_class=CTImageStorage)
            with pytest.raises(ValueError, match="No presentation context"):
                assoc.send_c_store(ct)
            assert int(assoc.send_c_store(mr_slice()).Status) == 0x0000
        finally:
            assoc.release()


def test_below_disk_watermark_answers_out_of_resources(tmp_path: Path):
    with running_scp(tmp_path, store_cfg=StoreConfig(min_free_bytes=10**18)) as scp:
        assert pynetdicom_send(scp.port, [mr_slice()]) == [0xA700]
        (audit,) = [e for e in scp.store.audit_events(AuditKind.INSTANCE)]
        assert audit.result == AuditResult.REFUSED and audit.status == 0xA700
        assert scp.store.study_uids() == []
