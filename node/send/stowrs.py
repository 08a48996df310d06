"""DICOMweb sender: STOW-RS (PS3.18 10.5) to send, QIDO-RS (PS3.18 10.6) to confirm."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx

from node.errors import DeliveryError
from node.send.config import DicomWebDestination
from node.send.senders import InstanceRef, Sender, register

FAILED_SOP_SEQUENCE = "00081198"
SOP_INSTANCE_UID = "00080018"


@register("dicomweb")
class StowRsSender(Sender):
    destination: DicomWebDestination

    def _client(self) -> httpx.Client:
        d = self.destination
        headers: dict[str, str] = {}
        auth: httpx.Auth | None = None
        if d.auth == "basic":
            auth = httpx.BasicAuth(d.username or "", d.password.get_secret_value() if d.password else "")
        elif d.auth == "bearer" and d.token is not None:
            headers["Authorization"] = f"Bearer {d.token.get_secret_value()}"
        verify = str(d.verify_tls) if isinstance(d.verify_tls, Path) else d.verify_tls
        return httpx.Client(base_url=d.url.rstrip("/"), headers=headers, auth=auth,
                            timeout=d.timeout_s, verify=verify)

    def send(self, files: Sequence[Path], refs: Sequence[InstanceRef]) -> None:
        """One multipart/related request per study (PS3.18 8.6.1.2)."""
        name = self.destination.name
        by_study: dict[str, list[Path]] = {}
        for path, ref in zip(files, refs, strict=True):
            by_study.setdefault(ref.study_uid, []).append(path)
        with self._client() as client:
            for study, paths in by_study.items():
                boundary = uuid.uuid4().hex
                body = b"".join(
                    b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n"
                    + p.read_bytes() + b"\r\n" for p in paths
                ) + b"--" + boundary.encode() + b"--\r\n"
                ctype = f'multipart/related; type="application/dicom"; boundary={boundary}'
                try:
                    resp = client.post(f"/studies/{study}", content=body,
                                       headers={"Content-Type": ctype, "Accept": "application/dicom+json"})
                except httpx.HTTPError as exc:
                    raise DeliveryError(f"{name}: STOW-RS failed: {type(exc).__name__}: {exc}") from exc
                if resp.status_code not in (200, 202):
                    raise DeliveryError(f"{name}: STOW-RS answered HTTP {resp.status_code}")
                failed = _failed_sops(resp)
                if failed:
                    raise DeliveryError(f"{name}: STOW-RS refused {len(failed)} instance(s): {failed}")

    def missing(self, refs: Sequence[InstanceRef]) -> list[str]:
        found: set[str] = set()
        with self._client() as client:
            for study, series in sorted({(r.study_uid, r.series_uid) for r in refs}):
                try:
                    resp = client.get(f"/studies/{study}/series/{series}/instances",
                                      headers={"Accept": "application/dicom+json"})
                except httpx.HTTPError as exc:
                    raise DeliveryError(f"{self.destination.name}: QIDO-RS failed: {exc}") from exc
                if resp.status_code in (204, 404):
                    continue
                if resp.status_code != 200:
                    raise DeliveryError(f"{self.destination.name}: QIDO-RS answered HTTP {resp.status_code}")
                for item in resp.json() or []:
                    vals = item.get(SOP_INSTANCE_UID, {}).get("Value", [])
                    found.update(str(v) for v in vals)
        return [r.sop_uid for r in refs if r.sop_uid not in found]


def _failed_sops(resp: httpx.Response) -> list[str]:
    try:
        data = resp.json()
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    items = data.get(FAILED_SOP_SEQUENCE, {}).get("Value", []) or []
    return [str(i.get("00081155", {}).get("Value", ["?"])[0]) for i in items]
