"""lipo-node receive stage: the DICOM Storage SCP (C-ECHO, C-STORE → store).

Public API::

    server = start_scp(cfg.receive, store, on_stored=callback)   # non-blocking
    server.shutdown()

``python -m node.receive --config X`` runs the SCP alone in the foreground.
"""

from node.receive.policy import AssociationPolicy, RejectReason
from node.receive.scp import build_ae, decodable_transfer_syntaxes, start_scp

__all__ = ["AssociationPolicy", "RejectReason", "build_ae", "decodable_transfer_syntaxes", "start_scp"]
