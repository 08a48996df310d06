"""No patient value in anything the receiver writes (issue 18 item 5): the SCP runs as the
node runs it (``python -m node.receive``, JSON log file, stderr captured), is fed broken
objects full of patient data, and every byte it wrote is searched afterwards."""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from peers import free_port, wait_port
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage
from receive_helpers import SCU_AE, mr_slice, pynetdicom_send, write

REPO = Path(__file__).resolve().parents[1]
NAME, PID, BIRTH, ADDRESS = "Doe^Janet^Phi", "PHI-90210-X", "19610417", "Secret Lane 7"
TOKENS = (NAME, "Doe^Janet", "Janet", PID, "90210", BIRTH, ADDRESS, "Secret Lane")


def _phi(ds: pydicom.Dataset) -> pydicom.Dataset:
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientAddress = NAME, PID, BIRTH, ADDRESS
    return ds


def _replace(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


def _broken(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []

    def save(name: str, ds: pydicom.Dataset) -> Path:
        path = write(ds, folder / f"{name}.dcm")
        out.append(path)
        return path

    # the patient's name re-labelled as a UID, a date and a number (decode/validation errors
    # that quote the value: "invalid value for VR UI: 'Doe^Janet^Phi'")
    for vr in (b"UI", b"DA", b"US", b"UL", b"AT"):
        p = save(f"name_as_{vr.decode()}", _phi(mr_slice()))
        p.write_bytes(_replace(p.read_bytes(), b"\x10\x00\x10\x00PN", b"\x10\x00\x10\x00" + vr))
    # patient ID with a length running past the end of the data set
    p = save("id_length_lie", _phi(mr_slice()))
    p.write_bytes(_replace(p.read_bytes(), b"\x10\x00\x20\x00LO\x0c\x00", b"\x10\x00\x20\x00LO\xff\xff"))
    # pixel data truncated after valid patient data; SOP Instance UID replaced by the name
    p = save("truncated", _phi(mr_slice(size=64)))
    p.write_bytes(p.read_bytes()[:-3000])
    ds = _phi(mr_slice())
    p = save("uid_is_name", ds)
    uid = ds.SOPInstanceUID.encode()
    fake = (NAME + "." * (len(uid) - len(NAME))).encode()[: len(uid)]
    data = p.read_bytes()
    at = data.rindex(uid)  # the data set's copy, not the file meta's
    p.write_bytes(data[:at] + fake + data[at + len(uid):])
    # an address sequence element with a lying item length
    ds = _phi(mr_slice())
    p = save("sq_lie", ds)
    p.write_bytes(_replace(p.read_bytes(), b"\x10\x00\x40\x10LO", b"\x10\x00\x40\x10SQ\x00\x00"
                           + struct.pack("<L", 0xFFFFFFF0)[:0]))
    return out


@pytest.mark.parametrize("ingest_processes", [0, 2])
def test_phi_laden_broken_objects_leave_no_patient_value_anywhere(tmp_path: Path,
                                                                  ingest_processes: int):
    """With ingest processes the records are made there and travel to the main process's
    handlers: the guard must act before they leave the worker."""
    port = free_port()
    data_dir, log_file, stderr_file = tmp_path / "var", tmp_path / "node.log", tmp_path / "stderr.txt"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(json.dumps({
        "data_dir": str(data_dir),
        "logging": {"level": "INFO", "json_lines": True, "file": str(log_file)},
        "receive": {"port": port, "allowed_callers": {SCU_AE: ["127.0.0.1"]},
                    "ingest_processes": ingest_processes},
        "store": {"min_free_bytes": 0},
    }))
    files = _broken(tmp_path / "in")
    with stderr_file.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "node.receive", "--config", str(cfg)], cwd=REPO,
                                stdout=err, stderr=subprocess.STDOUT)
        try:
            wait_port(port, timeout_s=30)
            statuses = pynetdicom_send(port, files, contexts=[(MRImageStorage, ExplicitVRLittleEndian)])
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert all(s is not None and s != 0 for s in statuses), statuses
    written = [log_file, stderr_file, *[p for p in data_dir.rglob("*") if p.is_file()]]
    assert log_file.stat().st_size > 0  # refusals were logged ...
    assert b"refused 0xC" in log_file.read_bytes()
    for path in written:  # ... and nothing anywhere names the patient
        blob = path.read_bytes()
        for token in TOKENS:
            assert token.encode() not in blob, (path.name, token)
