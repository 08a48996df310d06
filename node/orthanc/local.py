"""A temporary Orthanc on loopback for the demo and the end-to-end benchmark.

Uses the Debian ``orthanc`` package with the DICOMweb plugin and, when asked, the Python
plugin running ``deploy/orthanc/lipo_forward.py`` (auto-routing), configured for this run
only: its own storage folder, free ports, ``127.0.0.1`` only.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from node.errors import LipoNodeError

ORTHANC_BIN = Path("/usr/sbin/Orthanc")
PLUGINS = Path("/usr/share/orthanc/plugins")
FORWARD_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "orthanc" / "lipo_forward.py"


class OrthancStartError(LipoNodeError):
    code = "orthanc_start_failed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orthanc_available() -> bool:
    return ORTHANC_BIN.exists() and (PLUGINS / "libOrthancDicomWeb.so").exists()


@dataclass
class LocalOrthanc:
    workdir: Path
    aet: str = "ORTHANC"
    dicom_port: int = 0
    http_port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def configure(self, *, node_aet: str, node_port: int, forward: bool, stable_age_s: int = 2,
                  routing: dict | None = None, viewer: bool = False) -> None:
        """``routing`` adds keys to the plugin's ``LipoNode`` section (e.g. RetryBaseSeconds);
        ``viewer``: also serve OHIF under ``/ohif/`` (:mod:`node.orthanc.ohif`), when installed."""
        self.dicom_port = self.dicom_port or free_port()
        self.http_port = self.http_port or free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        plugins = [str(PLUGINS / "libOrthancDicomWeb.so")]
        cfg: dict = {
            "Name": "lipo-node demo PACS",
            "StorageDirectory": str(self.workdir / "storage"),
            "IndexDirectory": str(self.workdir / "index"),
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowEcho": True,
            "StableAge": stable_age_s,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "UserMetadata": {"LipoNodeForwarded": 1024, "LipoNodeRouting": 1025},
            "DicomModalities": {"lipo-node": [node_aet, "127.0.0.1", node_port]},
            "LipoNode": {"Modality": "lipo-node", "ExcludeCallingAets": [node_aet], **(routing or {})},
        }
        if forward:
            plugins.append(str(PLUGINS / "libOrthancPython.so"))
            script = self.workdir / "lipo_forward.py"
            shutil.copy(FORWARD_SCRIPT, script)
            cfg["PythonScript"] = str(script)
        if viewer:
            from node.orthanc import ohif

            site = ohif.build_site(self.workdir / "ohif-site")
            plugins.append(str(ohif.SERVE_FOLDERS_PLUGIN))
            cfg.update(ohif.orthanc_settings(site))
        cfg["Plugins"] = plugins
        (self.workdir / "orthanc.json").write_text(json.dumps(cfg, indent=2))

    def start(self, timeout_s: float = 30.0) -> None:
        log = (self.workdir / "orthanc.log").open("ab")
        self.proc = subprocess.Popen([str(ORTHANC_BIN), str(self.workdir / "orthanc.json")],
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.workdir / "orthanc.log").read_text(errors="replace")[-1500:]
                raise OrthancStartError(f"Orthanc exited at start:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/system", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise OrthancStartError(f"Orthanc did not answer on {self.url} within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
