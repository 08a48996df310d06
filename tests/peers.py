"""Real peers for tests: a temporary Orthanc (with DICOMweb, optional Python plugin script).

Every peer binds to 127.0.0.1 on a free port and every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ORTHANC_BIN = "/usr/sbin/Orthanc"
ORTHANC_PLUGINS = Path("/usr/share/orthanc/plugins")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout_s}s")


@dataclass
class Orthanc:
    aet: str
    dicom_port: int
    http_port: int
    workdir: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def start(self) -> None:
        log = open(self.workdir / "orthanc.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [ORTHANC_BIN, str(self.workdir / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited: {(self.workdir / 'orthanc.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/system", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError("Orthanc did not answer /system within 30 s")


def write_orthanc_config(
    workdir: Path,
    *,
    aet: str = "ORTHANC",
    dicom_port: int | None = None,
    http_port: int | None = None,
    modalities: dict[str, tuple[str, str, int]] | None = None,
    python_script: Path | None = None,
    extra: dict | None = None,
) -> Orthanc:
    workdir.mkdir(parents=True, exist_ok=True)
    o = Orthanc(aet, dicom_port or free_port(), http_port or free_port(), workdir)
    plugins = [str(ORTHANC_PLUGINS / "libOrthancDicomWeb.so")]
    if python_script is not None:
        plugins.append(str(ORTHANC_PLUGINS / "libOrthancPython.so"))
    cfg = {
        "Name": f"test-{aet}",
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "index"),
        "DicomAet": aet,
        "DicomPort": o.dicom_port,
        "HttpPort": o.http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowEcho": True,
        "UnknownSopClassAccepted": True,
        "StableAge": 2,
        "Plugins": plugins,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "DicomModalities": {k: list(v) for k, v in (modalities or {}).items()},
        "LogExportedResources": False,
    }
    cfg = {k: v for k, v in cfg.items() if v is not None}
    if python_script is not None:
        cfg["PythonScript"] = str(python_script)
        cfg["PythonVerbose"] = False
    if extra:
        cfg.update(extra)
    (workdir / "orthanc.json").write_text(json.dumps(cfg, indent=2))
    return o


@contextlib.contextmanager
def running_orthanc(workdir: Path, **kwargs) -> Iterator[Orthanc]:
    o = write_orthanc_config(workdir, **kwargs)
    o.start()
    try:
        yield o
    finally:
        o.stop()


def dcmtk_env() -> dict[str, str]:
    """dcmtk without Nagle's algorithm (see ARCHITECTURE.md: fair benchmarks)."""
    env = dict(os.environ)
    env["TCP_NODELAY"] = "1"
    return env
