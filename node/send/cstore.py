"""DICOM sender: C-STORE (PS3.4 B.2) to send, C-FIND Study Root IMAGE level (PS3.4 C.4.1)
to confirm. Optional DICOM TLS (PS3.15 B.1)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

from node.errors import DeliveryError
from node.send.config import DicomDestination
from node.send.senders import InstanceRef, Sender, register

_PENDING = (0xFF00, 0xFF01)


def _tls_args(dest: DicomDestination) -> tuple[ssl.SSLContext, str] | None:
    if dest.tls is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(dest.tls.ca_file))
    if dest.tls.cert_file is not None and dest.tls.key_file is not None:
        ctx.load_cert_chain(str(dest.tls.cert_file), str(dest.tls.key_file))
    return ctx, dest.tls.server_hostname or dest.host


@register("dicom")
class CStoreSender(Sender):
    destination: DicomDestination

    @contextmanager
    def _association(self, sop_classes: Sequence[str]) -> Iterator[Association]:
        d = self.destination
        ae = AE(ae_title=d.calling_ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = d.timeout_s
        ae.connection_timeout = d.timeout_s
        for uid in sorted(set(sop_classes)):
            ae.add_requested_context(uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        kwargs = {"ae_title": d.ae_title}
        tls = _tls_args(d)
        if tls is not None:
            kwargs["tls_args"] = tls
        assoc = ae.associate(d.host, d.port, **kwargs)
        if not assoc.is_established:
            raise DeliveryError(f"{d.name}: association with {d.ae_title}@{d.host}:{d.port} failed")
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()
            ae.shutdown()

    def send(self, files: Sequence[Path], refs: Sequence[InstanceRef]) -> None:
        with self._association([r.sop_class_uid for r in refs]) as assoc:
            for path, ref in zip(files, refs, strict=True):
                status = assoc.send_c_store(pydicom.dcmread(path))
                code = getattr(status, "Status", None)
                # 0x0000 success; 0xB000/0xB007/0xB006 warnings still store (PS3.4 B.2.3)
                if code is None or not (code == 0 or 0xB000 <= code <= 0xBFFF):
                    shown = "no response" if code is None else f"0x{code:04X}"
                    raise DeliveryError(f"{self.destination.name}: C-STORE of {ref.sop_uid} → {shown}")

    def missing(self, refs: Sequence[InstanceRef]) -> list[str]:
        found: set[str] = set()
        with self._association([StudyRootQueryRetrieveInformationModelFind]) as assoc:
            for study, series in sorted({(r.study_uid, r.series_uid) for r in refs}):
                q = pydicom.Dataset()
                q.QueryRetrieveLevel = "IMAGE"
                q.StudyInstanceUID = study
                q.SeriesInstanceUID = series
                q.SOPInstanceUID = ""
                for status, ident in assoc.send_c_find(q, StudyRootQueryRetrieveInformationModelFind):
                    code = getattr(status, "Status", None)
                    if code in _PENDING and ident is not None:
                        found.add(str(ident.get("SOPInstanceUID", "")))
                    elif code is None or code != 0:
                        raise DeliveryError(f"{self.destination.name}: C-FIND failed "
                                            f"({'no response' if code is None else f'0x{code:04X}'})")
        return [r.sop_uid for r in refs if r.sop_uid not in found]
