"""Destination config (kinds told apart by ``kind``), backoff policy, enqueue refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from node.config import load_config
from node.errors import ConfigError, DeliveryError
from node.send import DicomDestination, DicomWebDestination, ItemState, Outbox, RetryPolicy, SendConfig


def test_destination_kinds_are_parsed_from_yaml(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(
        "send:\n  destinations:\n"
        "    - {kind: dicom, name: pacs, host: 127.0.0.1, port: 104, ae_title: PACS}\n"
        "    - {kind: dicomweb, name: web, url: 'http://x/dicom-web', auth: bearer, token: s3cr3t}\n"
        "  default_destinations: [web]\n"
    )
    cfg = load_config(f)
    pacs, web = cfg.send.destinations
    assert isinstance(pacs, DicomDestination) and isinstance(web, DicomWebDestination)
    assert web.token is not None and web.token.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(web)  # secrets stay out of logs


@pytest.mark.parametrize(
    ("send", "needle"),
    [
        ({"destinations": [{"kind": "ftp", "name": "x"}]}, "kind"),
        ({"destinations": [{"kind": "dicomweb", "name": "w", "url": "http://x", "auth": "basic"}]},
         "basic needs username"),
        ({"destinations": [{"kind": "dicom", "name": "a", "host": "h", "port": 1, "ae_title": "A"}] * 2},
         "unique"),
        ({"default_destinations": ["nowhere"]}, "not configured"),
        ({"destinations": [{"kind": "dicom", "name": "a", "host": "h", "port": 1,
                            "ae_title": "WAY_TOO_LONG_AE_TITLE"}]}, "ae_title"),
    ],
)
def test_bad_destinations_name_the_problem(tmp_path: Path, send: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_config(None, data_dir=str(tmp_path), send=send)


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    p = RetryPolicy(base_delay_s=30, factor=2, max_delay_s=300, max_attempts=10)
    assert [p.delay(a) for a in range(1, 7)] == [30, 60, 120, 240, 300, 300]
    with pytest.raises(ValidationError):
        RetryPolicy(max_attempts=0)


def test_enqueue_refuses_unknown_destination_and_non_dicom(tmp_path: Path) -> None:
    cfg = SendConfig(destinations=[DicomDestination(name="pacs", host="h", port=104, ae_title="P")])
    ob = Outbox(tmp_path / "db.sqlite3", cfg)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")
    with pytest.raises(DeliveryError, match="not a readable DICOM"):
        ob.enqueue("j", [junk], "pacs")
    with pytest.raises(KeyError):
        ob.enqueue("j", [junk], "elsewhere")
    assert ob.counts() == {"pending": 0, "sent": 0, "delivered": 0, "dead": 0}


def test_an_item_taken_by_one_worker_is_skipped_by_another(tmp_path: Path, siemens_study: Path) -> None:
    files = sorted((siemens_study / "3_t1_fl2d_sag").iterdir())[:2]
    cfg = SendConfig(destinations=[DicomDestination(name="pacs", host="127.0.0.1", port=9, ae_title="P")])
    first, second = Outbox(tmp_path / "db.sqlite3", cfg), Outbox(tmp_path / "db.sqlite3", cfg)
    item_id = first.enqueue("j", files, "pacs", now=100.0)
    assert first._claim(item_id, 100.0)
    assert second.process_due(now=100.0) == []       # held by the first worker
    assert not second._claim(item_id, 100.0)
    assert second.get(item_id).state is ItemState.PENDING  # not lost either
