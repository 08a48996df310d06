"""Logging set-up. Patient names and IDs never reach a log line: pass them through ``phash``."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({})))


def phash(value: object, length: int = 12) -> str:
    """Stable pseudonym for a patient identifier (or any PHI) in logs and audit rows."""
    if value is None or value == "":
        return "-"
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:length]


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` keys become top-level fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, val in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = val if isinstance(val, (int, float, str, bool, type(None))) else str(val)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(level: str = "INFO", json_lines: bool = False, file: str | None = None) -> None:
    handler: logging.Handler = logging.FileHandler(file) if file else logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pynetdicom logs every PDU at INFO; keep it quiet unless debugging
    logging.getLogger("pynetdicom").setLevel(max(logging.WARNING, logging.getLevelName(level)))
