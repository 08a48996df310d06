"""lipo-node store stage: the spool and its SQLite index, the only writer of the spool.

Public API (used by receive/, orthanc/ pull mode and jobs/)::

    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    stored = store.store_instance(ds, transfer_syntax=ts, calling_ae=ae, raw=part10_bytes)
    # raw may also be pieces, e.g. (node.store.part10.part10_header(...), received_bytes)
    store.study_uids(); store.study_instances(uid); store.series_instances(uid)
    store.last_received(uid); store.audit(AuditEvent(...))
"""

from node.store.errors import BadPixelData, MissingUid, OutOfSpace, UndecodableDataset
from node.store.store import (
    AuditEvent,
    AuditKind,
    AuditResult,
    InstanceRecord,
    Store,
    StoredInstance,
)
from node.store.validate import InstanceKeys, check_instance

__all__ = [
    "AuditEvent",
    "AuditKind",
    "AuditResult",
    "BadPixelData",
    "InstanceKeys",
    "InstanceRecord",
    "MissingUid",
    "OutOfSpace",
    "Store",
    "StoredInstance",
    "UndecodableDataset",
    "check_instance",
]
