"""lipo-node send stage: persistent outbox, C-STORE / STOW-RS senders, delivery confirmation.

Public API::

    ob = Outbox(cfg.db_path, cfg.send)
    item_id = ob.enqueue(job_id, [seg_path, sr_path], "pacs")    # idempotent
    ob.process_due(now=None) -> list[OutboxItem]                   # send, confirm, back off
    ob.status(job_id) -> DeliveryStatus ; ob.dead_letters() ; ob.requeue(item_id)
    outbox_counts(cfg.db_path) -> {"pending": n, "sent": n, "delivered": n, "dead": n}
"""

from node.send.config import DicomDestination, DicomWebDestination, RetryPolicy, SendConfig
from node.send.outbox import DeliveryStatus, ItemState, Outbox, OutboxItem, outbox_counts
from node.send.senders import InstanceRef, Sender, register, sender_for

__all__ = [
    "DeliveryStatus", "DicomDestination", "DicomWebDestination", "InstanceRef", "ItemState",
    "Outbox", "OutboxItem", "RetryPolicy", "SendConfig", "Sender", "outbox_counts", "register",
    "sender_for",
]
