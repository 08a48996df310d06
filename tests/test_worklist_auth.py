"""Login, sessions, CSRF and roles over real HTTP (uvicorn on a free port), plus `user add`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from worklist_helpers import PASSWORD, add_user, build_app, live_server, make_config

from node.config import load_config
from node.worklist.users import UserError, UserStore


@pytest.fixture()
def server(tmp_path: Path):
    cfg = make_config(tmp_path)
    add_user(cfg, "anna", "reviewer")
    with live_server(build_app(cfg)) as base:
        yield cfg, base


def _login(base: str, name: str = "anna", password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    r = client.post("/login", data={"username": name, "password": password, "next": "/"})
    client.last = r  # type: ignore[attr-defined]
    return client


def _csrf(client: httpx.Client) -> str:
    page = client.get("/").text
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_passwords_are_stored_as_argon2id_hashes_only(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    add_user(cfg, "anna")
    raw = cfg.db_path.read_bytes() + Path(str(cfg.db_path) + "-wal").read_bytes() \
        if Path(str(cfg.db_path) + "-wal").exists() else cfg.db_path.read_bytes()
    assert PASSWORD.encode() not in raw
    with UserStore(cfg.db_path) as store:
        row = store._conn.execute("SELECT password_hash FROM users WHERE name='anna'").fetchone()
        assert row[0].startswith("$argon2id$")
        assert store.authenticate("anna", PASSWORD) is not None
        assert store.authenticate("anna", PASSWORD + "x") is None
        assert store.authenticate("nobody", PASSWORD) is None
        with pytest.raises(UserError, match="already exists"):
            store.add_user("anna", PASSWORD, "reviewer")
        with pytest.raises(UserError, match="too short"):
            store.add_user("bob", "short", "reviewer")
        with pytest.raises(UserError, match="role"):
            store.add_user("bob", PASSWORD, "superuser")


def test_no_page_or_api_without_a_session(server) -> None:
    _, base = server
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as c:
        r = c.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert c.get("/review/jtest11").status_code == 303
        assert c.get("/api/jobs").status_code == 401
        assert c.get("/api/review/jtest11/image.nii.gz").status_code == 401
        assert c.post("/api/review/jtest11/points", json={"points": [[1, 1, 1]] * 6}).status_code == 401
        c.cookies.set("lipo_session", "forged-token")
        assert c.get("/api/jobs").status_code == 401
        assert c.get("/healthz").status_code == 200  # probes stay open


def test_wrong_password_is_refused_and_sets_no_cookie(server) -> None:
    _, base = server
    c = _login(base, password="wrong password!")
    assert c.last.status_code == 401  # type: ignore[attr-defined]
    assert "lipo_session" not in c.cookies
    assert "Wrong user name or password" in c.last.text  # type: ignore[attr-defined]
    assert c.get("/api/jobs").status_code == 401


def test_login_sets_httponly_samesite_strict_cookie_and_opens_the_api(server) -> None:
    _, base = server
    c = _login(base)
    assert c.last.status_code == 303  # type: ignore[attr-defined]
    cookie = c.last.headers["set-cookie"].lower()  # type: ignore[attr-defined]
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert c.get("/api/jobs").status_code == 200
    assert c.get("/").status_code == 200


def test_state_changes_need_the_csrf_token(server) -> None:
    _, base = server
    c = _login(base)
    body = {"points": [[1, 1, 1]] * 6}
    assert c.post("/api/review/nojob/points", json=body).status_code == 403
    assert c.post("/api/review/nojob/points", json=body,
                  headers={"X-CSRF-Token": "not-the-token"}).status_code == 403
    token = _csrf(c)
    # with the token the request gets through to the route (which then finds no such job)
    assert c.post("/api/review/nojob/points", json=body, headers={"X-CSRF-Token": token}).status_code == 404
    assert c.post("/logout").status_code == 403
    r = c.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303
    assert c.get("/api/jobs").status_code == 401  # the session is gone on the server too


def test_open_redirect_after_login_is_refused(server) -> None:
    _, base = server
    c = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    r = c.post("/login", data={"username": "anna", "password": PASSWORD, "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_user_add_cli_reads_the_password_from_stdin(tmp_path: Path) -> None:
    env_cfg = tmp_path / "config.yaml"
    env_cfg.write_text(f"data_dir: {tmp_path / 'data'}\n")
    cmd = [sys.executable, "-m", "node.cli", "user", "add", "carl", "--role", "admin",
           "--password-stdin", "--config", str(env_cfg)]
    r = subprocess.run(cmd, input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r2 = subprocess.run(cmd, input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert r2.returncode == 2 and "already exists" in r2.stderr
    with UserStore(load_config(env_cfg).db_path) as store:
        user = store.authenticate("carl", PASSWORD)
        assert user is not None and user.role.value == "admin"
