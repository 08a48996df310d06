"""Our SCP receiving from dcmtk: the real Siemens study, Enhanced MR, compressed syntaxes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pydicom
import pytest
from peers import dcmtk_env
from pydicom import uid
from receive_helpers import (
    OUR_AE,
    SCU_AE,
    mr_slice,
    pynetdicom_send,
    running_scp,
    storescu,
    wait_for,
    write,
)

from node.dcmtk import dcmtk
from node.store import AuditKind, AuditResult

#: storescu option that proposes each transfer syntax (storescu 3.6.7 --help)
STORESCU_FLAG = {
    uid.JPEGLosslessSV1: "-xs", uid.JPEGExtended12Bit: "-xx", uid.JPEGBaseline8Bit: "-xy",
    uid.JPEGLSLossless: "-xt", uid.JPEGLSNearLossless: "-xu", uid.RLELossless: "-xr",
    uid.DeflatedExplicitVRLittleEndian: "-xd", uid.ImplicitVRLittleEndian: "-xi",
    uid.JPEG2000Lossless: "-xv", uid.JPEG2000: "-xw", "enhanced-j2k": "-xv",
}


def _association_audits(store):
    return store.audit_events(AuditKind.ASSOCIATION)


def test_siemens_study_from_storescu_is_indexed_and_audited(tmp_path: Path, siemens_study: Path):
    with running_scp(tmp_path) as scp:
        proc = storescu(scp.port, siemens_study)
        assert proc.returncode == 0, proc.stderr
        (study,) = scp.store.study_uids()
        records = scp.store.study_instances(study)
        by_series: dict[str, int] = {}
        for rec in records:
            by_series[rec.series_uid] = by_series.get(rec.series_uid, 0) + 1
            assert rec.calling_ae == SCU_AE and rec.path.is_file()
        sent = sorted(siemens_study.rglob("*.dcm"))
        assert len(records) == len(sent) >= 35
        assert 35 in by_series.values()  # 3_t1_fl2d_sag complete
        assert {r.sop_instance_uid for r in scp.records} == {r.sop_instance_uid for r in records}
        # the stored bytes are a faithful copy: same pixels as the source file
        src = pydicom.dcmread(sent[0])
        rec = scp.store.get_instance(src.SOPInstanceUID)
        assert (pydicom.dcmread(rec.path).pixel_array == src.pixel_array).all()
        (audit,) = wait_for(lambda: _association_audits(scp.store))
    assert audit.result == AuditResult.RELEASED
    assert (audit.calling_ae, audit.called_ae, audit.host) == (SCU_AE, OUR_AE, "127.0.0.1")
    assert audit.instances == len(sent)
    assert audit.bytes == sum(r.size for r in records)


def test_c_echo_is_answered(tmp_path: Path):
    with running_scp(tmp_path) as scp:
        proc = subprocess.run([dcmtk("echoscu"), "-aet", SCU_AE, "-aec", OUR_AE, "127.0.0.1", str(scp.port)],
                              env=dcmtk_env(), capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr


def _eight_bit_sc(path: Path) -> Path:
    ds = mr_slice(sop_class=uid.SecondaryCaptureImageStorage)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = bytes(i % 251 for i in range(ds.Rows * ds.Columns))
    return write(ds, path)


def _make_variants(folder: Path) -> dict[str, Path]:
    """One file per transfer syntax, made with dcmtk tools and pydicom encoders."""
    folder.mkdir()
    out: dict[str, Path] = {}
    tools = {  # each variant from its own source: lossless tools keep the SOP Instance UID
        uid.JPEGLosslessSV1: ["dcmcjpeg", "+e1"],
        uid.JPEGLossless: ["dcmcjpeg", "+el"],
        uid.JPEGExtended12Bit: ["dcmcjpeg", "+ee"],
        uid.JPEGBaseline8Bit: ["dcmcjpeg", "+eb"],
        uid.JPEGLSLossless: ["dcmcjpls"],
        uid.JPEGLSNearLossless: ["dcmcjpls", "+en"],
        uid.RLELossless: ["dcmcrle"],
        uid.DeflatedExplicitVRLittleEndian: ["dcmconv", "+td"],
        uid.ImplicitVRLittleEndian: ["dcmconv", "+ti"],
    }
    for i, (ts, cmd) in enumerate(tools.items()):
        src = folder / "src" / f"{i}.dcm"
        if ts == uid.JPEGBaseline8Bit:
            _eight_bit_sc(src)
        else:
            write(mr_slice(index=i), src)
        dst = folder / f"ts{i}" / "f.dcm"
        dst.parent.mkdir()
        subprocess.run([*cmd, str(src), str(dst)], check=True, capture_output=True, timeout=30)
        out[str(ts)] = dst
    for ts in (uid.JPEG2000Lossless, uid.JPEG2000):  # pydicom + pylibjpeg-openjpeg encoders
        ds = mr_slice()
        ds.compress(ts, **({"j2k_cr": [5]} if ts == uid.JPEG2000 else {}))
        out[str(ts)] = write(ds, folder / f"pydicom-{ts}" / "f.dcm")
    enh = mr_slice(sop_class=uid.EnhancedMRImageStorage, frames=4)
    enh.compress(uid.JPEG2000Lossless)
    out["enhanced-j2k"] = write(enh, folder / "enhanced" / "f.dcm")
    return out


def test_compressed_transfer_syntaxes_and_enhanced_mr_are_received_and_decoded(tmp_path: Path):
    files = _make_variants(tmp_path / "files")
    with running_scp(tmp_path / "node") as scp:
        for key, path in files.items():
            flag = STORESCU_FLAG.get(key)
            if flag is None:  # no storescu option proposes it: pynetdicom sends the file as is
                assert pynetdicom_send(scp.port, [path]) == [0x0000], key
            else:
                proc = storescu(scp.port, path, extra=(flag,))
                assert proc.returncode == 0, (key, proc.stderr)
        for key, path in files.items():
            src = pydicom.dcmread(path)
            rec = scp.store.get_instance(src.SOPInstanceUID)
            assert rec is not None, key
            assert rec.transfer_syntax == src.file_meta.TransferSyntaxUID, key  # sent as encoded
            got = pydicom.dcmread(rec.path)
            assert got.file_meta.TransferSyntaxUID == src.file_meta.TransferSyntaxUID
            assert got.pixel_array.shape == src.pixel_array.shape, key
        enh = scp.store.get_instance(pydicom.dcmread(files["enhanced-j2k"]).SOPInstanceUID)
        assert enh.sop_class_uid == uid.EnhancedMRImageStorage
        assert pydicom.dcmread(enh.path).pixel_array.shape == (4, 64, 64)


@pytest.mark.parametrize("flag", ["-xi", "-xd"])
def test_negotiated_implicit_and_deflated_transfer(tmp_path: Path, flag: str):
    """storescu re-encodes on the fly: what arrives is stored and decodes."""
    path = write(mr_slice(), tmp_path / "in" / "f.dcm")
    with running_scp(tmp_path / "node") as scp:
        proc = storescu(scp.port, path, extra=(flag,))
        assert proc.returncode == 0, proc.stderr
        rec = scp.store.get_instance(pydicom.dcmread(path).SOPInstanceUID)
        expected = uid.ImplicitVRLittleEndian if flag == "-xi" else uid.DeflatedExplicitVRLittleEndian
        assert rec.transfer_syntax == expected
        assert pydicom.dcmread(rec.path).pixel_array.shape == (64, 64)
