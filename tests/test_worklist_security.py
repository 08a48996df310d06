"""Web hardening (issue 18 item 7): login throttling/lock-out with logged failures, security
headers on every response, no public API docs. Real HTTP against uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from worklist_helpers import PASSWORD, add_user, build_app, live_server, make_config

from node.worklist.security import MAX_FAILURES, LoginThrottle


@pytest.fixture()
def server(tmp_path: Path):
    cfg = make_config(tmp_path)
    add_user(cfg, "anna", "reviewer")
    with live_server(build_app(cfg)) as base:
        yield base


def _post_login(client: httpx.Client, password: str, name: str = "anna") -> httpx.Response:
    return client.post("/login", data={"username": name, "password": password, "next": "/"})


def test_wrong_passwords_lock_the_account_even_for_the_right_one(server, caplog) -> None:
    client = httpx.Client(base_url=server, follow_redirects=False, timeout=30)
    with caplog.at_level(logging.WARNING, logger="node.worklist.security"):
        codes = [_post_login(client, f"wrong{i}").status_code for i in range(MAX_FAILURES)]
        assert codes == [401] * MAX_FAILURES
        locked = _post_login(client, PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "lipo_session" not in locked.cookies
    failed = [r for r in caplog.records if "failed login" in r.getMessage()]
    assert len(failed) == MAX_FAILURES
    assert all("anna" not in r.getMessage() for r in caplog.records)  # pseudonym, not the name
    other = httpx.Client(base_url=server, follow_redirects=False, timeout=30)
    add_ok = _post_login(other, "wrong", name="bert")  # another user is not locked by anna's
    assert add_ok.status_code == 401


def test_lockout_expires_and_doubles() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(MAX_FAILURES):
        throttle.failed("anna", "10.0.0.1")
    first = throttle.retry_after("anna", "10.0.0.1")
    assert first > 0
    now[0] += first + 1
    assert throttle.retry_after("anna", "10.0.0.1") == 0
    for _ in range(MAX_FAILURES):
        throttle.failed("anna", "10.0.0.1")
    assert throttle.retry_after("anna", "10.0.0.1") == pytest.approx(2 * first)


def test_security_headers_on_pages_api_and_errors_and_no_public_docs(server) -> None:
    client = httpx.Client(base_url=server, follow_redirects=False, timeout=30)
    for path in ("/login", "/healthz", "/api/jobs", "/", "/nonexistent"):
        r = client.get(path)
        assert r.headers.get("x-frame-options") == "DENY", path
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, path
        assert r.headers.get("x-content-type-options") == "nosniff", path
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404, path


def test_every_login_attempt_is_an_audit_row_without_the_password(tmp_path: Path) -> None:
    from node.store import AuditKind, AuditResult, Store

    cfg = make_config(tmp_path)
    add_user(cfg, "anna", "reviewer")
    with live_server(build_app(cfg)) as base:
        client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        assert _post_login(client, PASSWORD).status_code == 303
        for i in range(MAX_FAILURES):
            assert _post_login(client, f"Doe^Jane{i}").status_code == 401
        assert _post_login(client, PASSWORD).status_code == 429  # locked out
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    try:
        rows = list(reversed(store.audit_events(AuditKind.LOGIN)))
    finally:
        store.close()
    assert [r.result for r in rows] == [AuditResult.SUCCEEDED] + [AuditResult.FAILED] * \
        MAX_FAILURES + [AuditResult.REFUSED]
    assert all(r.host == "127.0.0.1" for r in rows)
    assert rows[0].detail == "user anna"
    assert all("anna" not in r.detail and "Doe" not in r.detail for r in rows[1:])
    raw = cfg.db_path.read_bytes() + (Path(str(cfg.db_path) + "-wal").read_bytes()
                                      if Path(str(cfg.db_path) + "-wal").exists() else b"")
    assert b"Doe^Jane" not in raw and PASSWORD.encode() not in raw
