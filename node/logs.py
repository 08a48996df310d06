"""Logging set-up. Patient names and IDs never reach a log line: pass them through ``phash``."""

from __future__ import annotations

import hashlib
import json
import logging
import re
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


#: loggers whose messages may quote a value read from a data set (a patient's name in a decode
#: error, a warning about an invalid value): their quoted text and tracebacks are withheld
_FOREIGN = ("pydicom", "pynetdicom", "py.warnings")
_QUOTED = re.compile(r"b?'(?:[^'\\]|\\.)*'" + r'|b?"(?:[^"\\]|\\.)*"')


class PhiGuard(logging.Filter):
    """Redacts what a library may have copied from received data before any handler sees it.

    Our own code never logs a data set value (it logs tags, UIDs, AE titles and error kinds);
    pydicom and pynetdicom do, in warnings ("invalid value for VR PN: 'Doe^Janet'") and in the
    tracebacks of decode errors. For their records, quoted literals become ``'<withheld>'`` and
    a traceback shrinks to its exception type.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(_FOREIGN):
            text = _QUOTED.sub("'<withheld>'", record.getMessage())
            if record.exc_info and record.exc_info[0] is not None:
                text += f" [{record.exc_info[0].__name__}]"
            record.msg, record.args = text, None
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def setup_logging(level: str = "INFO", json_lines: bool = False, file: str | None = None) -> None:
    handler: logging.Handler = logging.FileHandler(file) if file else logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PhiGuard())
    # warnings (pydicom's among them) go through the same handler and guard, not raw stderr
    logging.captureWarnings(True)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pynetdicom logs every PDU at INFO; keep it quiet unless debugging
    logging.getLogger("pynetdicom").setLevel(max(logging.WARNING, logging.getLevelName(level)))
