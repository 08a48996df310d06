"""Helpers for receive/store tests: synthetic instances, an in-process SCP, dcmtk senders."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from peers import dcmtk_env
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from node.dcmtk import dcmtk
from node.receive.config import ReceiveConfig
from node.receive.scp import start_scp
from node.store import Store
from node.store.config import StoreConfig

SCU_AE = "STORESCU"
OUR_AE = "LIPO_NODE"


def mr_slice(
    *, study: str | None = None, series: str | None = None, index: int = 0, size: int = 64,
    sop_class: str = MRImageStorage, frames: int = 1,
) -> pydicom.Dataset:
    """A small valid MR (or Enhanced MR when ``frames`` > 1) instance, explicit VR LE."""
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sop = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop
    ds.StudyInstanceUID = study or generate_uid()
    ds.SeriesInstanceUID = series or generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Test^Receive", "RCV0001", "MR"
    ds.InstanceNumber = index + 1
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    shape: tuple[int, ...] = (size, size)
    if frames > 1:
        ds.NumberOfFrames = frames
        shape = (frames, size, size)
    yy, xx = np.mgrid[0:size, 0:size]
    img = ((xx * 37 + yy * 11 + index * 101) % 4096).astype(np.uint16)
    ds.PixelData = np.broadcast_to(img, shape).copy().tobytes()
    return ds


def write(ds: pydicom.Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


@dataclass
class RunningScp:
    port: int
    store: Store
    cfg: ReceiveConfig
    records: list
    server: Any = None


@contextlib.contextmanager
def running_scp(tmp: Path, store_cfg: StoreConfig | None = None, **receive: object) -> Iterator[RunningScp]:
    """Our SCP in this process on a free port; ``receive`` overrides ReceiveConfig keys."""
    settings: dict = {"port": 0, "allowed_callers": {SCU_AE: ["127.0.0.1"], "ORTHANC": ["127.0.0.1"]}}
    settings.update(receive)
    cfg = ReceiveConfig(**settings)
    store = Store(tmp / "node.sqlite3", tmp / "spool", store_cfg or StoreConfig(min_free_bytes=0))
    records: list = []
    server = start_scp(cfg, store, on_stored=records.append)
    try:
        yield RunningScp(server.server_address[1], store, cfg, records, server)
    finally:
        server.shutdown()
        store.close()


def storescu(port: int, *paths: Path, aet: str = SCU_AE, aec: str = OUR_AE,
             extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    cmd = [dcmtk("storescu"), "-aet", aet, "-aec", aec, *extra, "+sd", "+r", "+sp", "*.dcm",
           "127.0.0.1", str(port), *map(str, paths)]
    return subprocess.run(cmd, env=dcmtk_env(), capture_output=True, text=True, timeout=60)


def wait_for(predicate, timeout_s: float = 10.0, step_s: float = 0.05):
    """Poll ``predicate`` until truthy (bounded); returns its last value."""
    import time

    deadline = time.monotonic() + timeout_s
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(step_s)
        value = predicate()
    return value


def pynetdicom_send(port: int, items: list, *, aet: str = SCU_AE, aec: str = OUR_AE,
                    contexts: list[tuple[str, str]] | None = None) -> list[int | None]:
    """Send datasets or Part 10 file paths (sent as encoded, not re-encoded) over one
    association; returns each C-STORE status (None when no response came)."""
    from pynetdicom import AE, _config

    ae = AE(ae_title=aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    if contexts is None:
        contexts = []
        for item in items:
            meta = pydicom.dcmread(item, stop_before_pixels=True).file_meta if isinstance(item, Path) \
                else item.file_meta
            pair = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
            if pair not in contexts:
                contexts.append(pair)
    for sop_class, ts in contexts:
        ae.add_requested_context(sop_class, ts)
    assoc = ae.associate("127.0.0.1", port, ae_title=aec)
    assert assoc.is_established, "association not established"
    statuses: list[int | None] = []
    # file paths go out byte for byte (the data set is not decoded or re-encoded by the SCU)
    saved, _config.STORE_SEND_CHUNKED_DATASET = _config.STORE_SEND_CHUNKED_DATASET, True
    try:
        for item in items:
            rsp = assoc.send_c_store(item)
            statuses.append(int(rsp.Status) if "Status" in rsp else None)
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = saved
        assoc.release()
    return statuses
