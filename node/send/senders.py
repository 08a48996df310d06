"""Sender registry: one class per destination ``kind``, registered by decorator.

A sender sends files (:meth:`Sender.send`) and tells which SOP Instances are *not* yet at
the destination (:meth:`Sender.missing`) so the outbox only marks an item delivered when the
peer confirms every UID. Failures raise :class:`~node.errors.DeliveryError` (retryable).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel


@dataclass(frozen=True)
class InstanceRef:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str


class Sender(ABC):
    kind: ClassVar[str]

    def __init__(self, destination: Any) -> None:
        self.destination = destination

    @abstractmethod
    def send(self, files: Sequence[Path], refs: Sequence[InstanceRef]) -> None:
        """Transfer every file or raise DeliveryError."""

    @abstractmethod
    def missing(self, refs: Sequence[InstanceRef]) -> list[str]:
        """SOP Instance UIDs of ``refs`` the destination does not have (raise if unreachable)."""


_REGISTRY: dict[str, type[Sender]] = {}


def register(kind: str) -> Callable[[type[Sender]], type[Sender]]:
    def deco(cls: type[Sender]) -> type[Sender]:
        if kind in _REGISTRY:
            raise ValueError(f"sender kind {kind!r} registered twice")
        cls.kind = kind
        _REGISTRY[kind] = cls
        return cls

    return deco


def sender_for(destination: BaseModel) -> Sender:
    # import the built-in kinds so their decorators have run
    from node.send import cstore, stowrs  # noqa: F401

    kind = destination.kind  # type: ignore[attr-defined]
    try:
        return _REGISTRY[kind](destination)
    except KeyError:
        raise ValueError(f"no sender registered for destination kind {kind!r}") from None
