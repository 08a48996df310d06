"""``lipo-node bench ingest``: instances/s of our SCP versus dcmtk ``storescp``.

The same N synthetic MR slices (256x256, 16 bit, ~130 KB each) are sent with dcmtk
``storescu`` over one association (``TCP_NODELAY=1``, ARCHITECTURE.md) to

- our SCP, run as ``python -m node.receive`` in its own process with the default
  ``store.sync: group`` (each instance decoded and checked, written and renamed, made durable
  by a syncfs shared with whatever else is waiting, and indexed before its C-STORE-RSP);
- dcmtk ``storescp`` with a per-instance fsync: dcmtk 3.6.7 has no fsync option, so each
  received file is synced with ``--exec-on-reception "sync #p/#f" --exec-sync`` (coreutils
  ``sync FILE`` = fsync; storescp waits for it before reading the next request);
- dcmtk ``storescp`` without fsync (page cache only; reported for context, not durable);
- a bare pynetdicom SCP whose C-STORE handler does nothing (``pynetdicom_noop``): the floor
  set by pynetdicom's transport and reactor, to show where our time goes;
- the same no-op behind our transport (``noop_our_transport``: GuardedServer and the
  event-driven reactors of node.receive.reactor), so the report can say how much of ours vs
  the stock floor is a faster transport and how much the durable path costs.

Each target gets a fresh output folder per repeat (no duplicate short-cuts) and the received
count is checked. With ``--parallel K`` (K > 1) each target is measured a second time with the
same instances split over K concurrent ``storescu`` senders (one association each), the
aggregate rate being N / wall time. The JSON holds the median rate of each target per mode and
the issue's two ratios: ours / pynetdicom no-op on one association (target 0.9) and ours /
dcmtk-fsync in aggregate with K senders (target 1.0); ``ratio`` stays ours / dcmtk-fsync on one
association. Run it under ``nice`` on a quiet machine: the rates are wall-clock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from node.dcmtk import dcmtk

TARGET_RATIO = 1.0
SCU_AE = "STORESCU"
#: ``receive.ingest_processes`` of the measured SCP (``--ingest-processes``)
INGEST_PROCESSES: int | str = "auto"


def register(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("ingest", help="C-STORE instances/s: our SCP vs dcmtk storescp")
    p.add_argument("--instances", type=int, default=500)
    p.add_argument("--repeats", type=int, default=3, help="runs per target (median reported)")
    p.add_argument("--out", type=Path, default=Path("bench-ingest.json"))
    p.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: temp)")
    p.add_argument("--parallel", type=int, default=4,
                   help="also measure with this many concurrent senders (1 = single only)")
    p.add_argument("--note", default="", help="free text stored in the JSON (machine load...)")
    p.add_argument("--ingest-processes", default="auto",
                   help="receive.ingest_processes of our SCP (auto, as config.yaml ships; 0 = "
                   "all associations in one process)")
    p.set_defaults(func=_run)


def make_instances(folder: Path, n: int, size: int = 256) -> int:
    """Write ``n`` MR Image Storage slices of one series; returns bytes per file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for i in range(n):
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        sop = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.Modality = "Bench^Ingest", "BENCH0001", "MR"
        ds.SeriesNumber, ds.InstanceNumber = 1, i + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.ScanningSequence, ds.SequenceVariant = "SE", "NONE"
        ds.RepetitionTime, ds.EchoTime = 500.0, 10.0
        ds.ImagePositionPatient = [0.0, 0.0, float(i)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [1.0, 1.0], 1.0
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = rng.integers(0, 4096, (size, size), dtype=np.uint16).tobytes()
        ds.save_as(folder / f"{i:05d}.dcm", enforce_file_format=True)
    return (folder / "00000.dcm").stat().st_size


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"no SCP on port {port} after {timeout_s} s")


def _env() -> dict[str, str]:
    return {**os.environ, "TCP_NODELAY": "1"}


def _send(port: int, called_ae: str, folders: list[Path]) -> float:
    """Seconds (wall) for one ``storescu`` per folder, all at once, each over one association,
    to send every file of its folder."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen([dcmtk("storescu"), "-aet", SCU_AE, "-aec", called_ae, "+sd", "127.0.0.1",
                               str(port), str(f)], env=_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for f in folders]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    elapsed = time.perf_counter() - t0
    failed = [e for p, e in zip(procs, errors, strict=True) if p.returncode != 0]
    if failed:
        raise RuntimeError(f"storescu failed: {failed[0][-1000:]}")
    return elapsed


@contextlib.contextmanager
def _process(cmd: list[str], port: int, log: Path) -> Iterator[None]:
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=_env())
        try:
            _wait_port(port)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _ours(run_dir: Path, files: list[Path], n: int) -> float:
    port = _free_port()
    cfg = run_dir / "config.yaml"
    cfg.write_text(json.dumps({
        "data_dir": str(run_dir / "var"),
        "logging": {"level": "WARNING"},
        # ingest_processes as config.yaml ships it (the embedded default of the model is 0)
        "receive": {"port": port, "allowed_callers": {SCU_AE: ["127.0.0.1"]},
                    "ingest_processes": INGEST_PROCESSES},
        "store": {"min_free_bytes": 0},
    }))
    cmd = [sys.executable, "-m", "node.receive", "--config", str(cfg)]
    with _process(cmd, port, run_dir / "scp.log"):
        elapsed = _send(port, "LIPO_NODE", files)
    from node.store.db import connect

    conn = connect(run_dir / "var" / "lipo-node.sqlite3")
    got = conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0]
    conn.close()
    if got != n:
        raise RuntimeError(f"our SCP indexed {got} of {n} instances")
    return n / elapsed


def noop_scp(port: int, our_transport: bool = False) -> None:
    """A pynetdicom Storage SCP that answers Success without looking at the data (floor).

    ``our_transport``: the same no-op behind our server and event-driven reactors
    (node.receive.transport/reactor) instead of pynetdicom's polling loops, to show which part
    of the difference to the stock floor is transport and which is the durable path."""
    from pynetdicom import AE, evt, sop_class

    ae = AE(ae_title="NOOP")
    ae.maximum_pdu_size = 4_194_304  # as ours (receive.max_pdu_bytes), so only the work differs
    ae.maximum_associations = 16
    ae.add_supported_context(sop_class.MRImageStorage)
    handlers = [(evt.EVT_C_STORE, lambda _e: 0x0000)]
    if not our_transport:
        ae.start_server(("127.0.0.1", port), evt_handlers=handlers)
        return
    from node.receive.transport import GuardedServer

    server = ae.make_server(("127.0.0.1", port), evt_handlers=handlers, server_class=GuardedServer)
    server.serve_forever()


def _noop(run_dir: Path, files: list[Path], n: int, our_transport: bool = False) -> float:
    port = _free_port()
    code = f"from node.bench.ingest import noop_scp; noop_scp({port}, {our_transport})"
    with _process([sys.executable, "-c", code], port, run_dir / "noop.log"):
        return n / _send(port, "NOOP", files)


def _dcmtk(run_dir: Path, files: list[Path], n: int, fsync: bool) -> float:
    port = _free_port()
    out = run_dir / "out"
    out.mkdir()
    cmd = [dcmtk("storescp"), "-aet", "DCMTK", "-od", str(out)]
    if fsync:
        cmd += ["--exec-on-reception", "sync #p/#f", "--exec-sync"]
    if len(files) > 1:
        cmd.append("--fork")  # one process per association, else storescp serves them in turn
    cmd.append(str(port))
    with _process(cmd, port, run_dir / "storescp.log"):
        elapsed = _send(port, "DCMTK", files)
    got = sum(1 for _ in out.iterdir())
    if got != n:
        raise RuntimeError(f"storescp wrote {got} of {n} files")
    return n / elapsed


def _split(files: Path, parts: int) -> list[Path]:
    """The instances of ``files`` hard-linked into ``parts`` folders, round robin."""
    folders = [files.parent / f"{files.name}-part{k}" for k in range(parts)]
    for f in folders:
        f.mkdir(exist_ok=True)
    for i, path in enumerate(sorted(files.glob("*.dcm"))):
        os.link(path, folders[i % parts] / path.name)
    return folders


def _measure(workdir: Path, folders: list[Path], n: int, repeats: int, tag: str) -> dict[str, list[float]]:
    targets = {
        "ours": lambda d: _ours(d, folders, n),
        "dcmtk_fsync": lambda d: _dcmtk(d, folders, n, fsync=True),
        "dcmtk_no_fsync": lambda d: _dcmtk(d, folders, n, fsync=False),
        "pynetdicom_noop": lambda d: _noop(d, folders, n),
        "noop_our_transport": lambda d: _noop(d, folders, n, our_transport=True),
    }
    rates: dict[str, list[float]] = {k: [] for k in targets}
    for rep in range(repeats):  # interleave targets so drift in machine load hits all alike
        for name, fn in targets.items():
            run_dir = workdir / f"{tag}-{name}-{rep}"
            run_dir.mkdir()
            rates[name].append(fn(run_dir))
            shutil.rmtree(run_dir, ignore_errors=True)
    return rates


def run_bench(workdir: Path, n: int, repeats: int, parallel: int = 4, note: str = "") -> dict[str, Any]:
    load_before = os.getloadavg()
    files = workdir / "instances"
    size = make_instances(files, n)
    rates = _measure(workdir, [files], n, repeats, "single")
    med = {k: statistics.median(v) for k, v in rates.items()}
    multi: dict[str, Any] | None = None
    if parallel > 1:
        prates = _measure(workdir, _split(files, parallel), n, repeats, f"parallel{parallel}")
        pmed = {k: statistics.median(v) for k, v in prates.items()}
        multi = {
            "senders": parallel,
            "instances_per_s": pmed,
            "runs": prates,
            "ratio_vs_dcmtk_fsync": pmed["ours"] / pmed["dcmtk_fsync"],
            "ratio_vs_pynetdicom_noop": pmed["ours"] / pmed["pynetdicom_noop"],
            "ratio_vs_noop_our_transport": pmed["ours"] / pmed["noop_our_transport"],
            "target_ratio_vs_dcmtk_fsync": 1.0,
            "meets_target": pmed["ours"] / pmed["dcmtk_fsync"] >= 1.0,
        }
    version = subprocess.run([dcmtk("storescp"), "--version"], capture_output=True, text=True).stdout
    return {
        "bench": "ingest",
        "instances": n,
        "bytes_per_instance": size,
        "repeats": repeats,
        "instances_per_s": med,
        "runs": rates,
        "ratio": med["ours"] / med["dcmtk_fsync"],
        "ratio_vs_dcmtk_no_fsync": med["ours"] / med["dcmtk_no_fsync"],
        "target_ratio": TARGET_RATIO,
        "meets_target": med["ours"] / med["dcmtk_fsync"] >= TARGET_RATIO,
        "ratio_vs_pynetdicom_noop": med["ours"] / med["pynetdicom_noop"],
        "target_ratio_vs_pynetdicom_noop": 0.9,
        "meets_noop_target": med["ours"] / med["pynetdicom_noop"] >= 0.9,
        "ratio_vs_noop_our_transport": med["ours"] / med["noop_our_transport"],
        "load_average_1_5_15": {"before": list(load_before), "after": list(os.getloadavg())},
        "parallel": multi,
        "note": note,
        "ingest_processes": INGEST_PROCESSES,
        "sender": "dcmtk storescu, one association, TCP_NODELAY=1",
        "dcmtk_fsync_method": "storescp --exec-on-reception 'sync #p/#f' --exec-sync",
        "dcmtk_version": version.splitlines()[0] if version else "",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
    }


def _run(args: argparse.Namespace) -> int:
    global INGEST_PROCESSES
    INGEST_PROCESSES = args.ingest_processes if args.ingest_processes == "auto" \
        else int(args.ingest_processes)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = run_bench(args.workdir, args.instances, args.repeats, args.parallel, args.note)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            result = run_bench(Path(tmp), args.instances, args.repeats, args.parallel, args.note)
    args.out.write_text(json.dumps(result, indent=2))
    rates = result["instances_per_s"]
    print(f"ours {rates['ours']:.0f}/s, dcmtk+fsync {rates['dcmtk_fsync']:.0f}/s, "
          f"dcmtk no fsync {rates['dcmtk_no_fsync']:.0f}/s, pynetdicom no-op "
          f"{rates['pynetdicom_noop']:.0f}/s (on our transport {rates['noop_our_transport']:.0f}/s);"
          f" ratio {result['ratio']:.2f}, vs no-op {result['ratio_vs_pynetdicom_noop']:.2f}, "
          f"load {result['load_average_1_5_15']['before'][0]:.1f} -> {args.out}")
    if result["parallel"]:
        p = result["parallel"]
        print(f"{p['senders']} senders: ours {p['instances_per_s']['ours']:.0f}/s, dcmtk+fsync "
              f"{p['instances_per_s']['dcmtk_fsync']:.0f}/s, ratio {p['ratio_vs_dcmtk_fsync']:.2f}")
    return 0
