"""Association policy: who may open an association with us, and from where.

Checked when the A-ASSOCIATE-RQ arrives (pynetdicom ``EVT_REQUESTED``), before any
presentation context is negotiated. Rejections are permanent (result 1) from the DICOM UL
service-user (source 1) with the diagnostic of PS3.8 9.3.4 Table 9-21:
reason 3 "calling-AE-title-not-recognized" (unknown AE, or a known AE from a host it is not
allowed to use) and reason 7 "called-AE-title-not-recognized".
"""

from __future__ import annotations

import ipaddress
from enum import IntEnum

from node.receive.config import ReceiveConfig


class RejectReason(IntEnum):
    """A-ASSOCIATE-RJ diagnostics for source 1, service-user (PS3.8 Table 9-21)."""

    NO_REASON = 0x01
    CALLING_AE_NOT_RECOGNISED = 0x03
    CALLED_AE_NOT_RECOGNISED = 0x07


REJECT_PERMANENT = 0x01
SOURCE_SERVICE_USER = 0x01


def _host_allowed(host: str, allowed: list[str]) -> bool:
    """``allowed`` holds IP addresses or networks (``10.0.0.0/24``); empty means any host."""
    if not allowed:
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if addr in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class AssociationPolicy:
    def __init__(self, cfg: ReceiveConfig) -> None:
        self._our_ae = cfg.ae_title
        self._require_called = cfg.require_called_ae
        self._callers = {ae.strip(): hosts for ae, hosts in cfg.allowed_callers.items()}

    def check(self, calling_ae: str, called_ae: str, host: str) -> RejectReason | None:
        """``None`` to accept, else the reason to reject with."""
        hosts = self._callers.get(calling_ae.strip())
        if hosts is None or not _host_allowed(host, hosts):
            return RejectReason.CALLING_AE_NOT_RECOGNISED
        if self._require_called and called_ae.strip() != self._our_ae:
            return RejectReason.CALLED_AE_NOT_RECOGNISED
        return None
