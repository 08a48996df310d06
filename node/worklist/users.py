"""Local users and login sessions (tables ``users`` and ``sessions`` in the node database).

Passwords are hashed with Argon2id (RFC 9106, ``argon2-cffi`` defaults); only the hash is
stored. A session is a random 256-bit token (the cookie value); the database keeps its SHA-256,
so a copied database file does not hand out live sessions. Each session carries its own CSRF
token (synchroniser-token pattern, OWASP CSRF cheat sheet) that every state-changing request
must echo.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from node.errors import LipoNodeError
from node.store.db import connect, ensure_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at REAL NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_name);
"""

SESSION_TTL_S = 12 * 3600.0  # one working day
MIN_PASSWORD_LEN = 8
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_HASHER = PasswordHasher()


class Role(StrEnum):
    REVIEWER = "reviewer"
    ADMIN = "admin"


class UserError(LipoNodeError):
    """A user cannot be created or changed as asked (name taken, weak password, bad role)."""

    code = "user_invalid"


@dataclass(frozen=True)
class User:
    name: str
    role: Role


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: float


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    """Users and sessions in ``db_path`` (one connection; short-lived per request)."""

    def __init__(self, db_path: Path) -> None:
        self._conn: sqlite3.Connection = connect(db_path)
        ensure_schema(self._conn, SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> UserStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_user(self, name: str, password: str, role: Role | str) -> User:
        if not _NAME.match(name):
            raise UserError(f"user name {name!r}: use 2-64 letters, digits or _.@-")
        try:
            role = Role(role)
        except ValueError:
            raise UserError(f"role {role!r}: choose one of {[r.value for r in Role]}") from None
        if len(password) < MIN_PASSWORD_LEN:
            raise UserError(f"password too short: at least {MIN_PASSWORD_LEN} characters")
        try:
            self._conn.execute(
                "INSERT INTO users(name, password_hash, role, created_at) VALUES (?,?,?,?)",
                (name, _HASHER.hash(password), str(role), time.time()),
            )
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} already exists") from None
        return User(name, role)

    def set_password(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_LEN:
            raise UserError(f"password too short: at least {MIN_PASSWORD_LEN} characters")
        cur = self._conn.execute("UPDATE users SET password_hash=? WHERE name=?",
                                 (_HASHER.hash(password), name))
        if cur.rowcount != 1:
            raise UserError(f"no user {name!r}")
        self._conn.execute("DELETE FROM sessions WHERE user_name=?", (name,))

    def users(self) -> list[User]:
        rows = self._conn.execute("SELECT name, role FROM users WHERE active=1 ORDER BY name")
        return [User(r["name"], Role(r["role"])) for r in rows]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches, else None (same work either way: no user
        enumeration by timing)."""
        row = self._conn.execute(
            "SELECT name, role, password_hash FROM users WHERE name=? AND active=1", (name,)
        ).fetchone()
        stored = row["password_hash"] if row else _DUMMY_HASH
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _HASHER.check_needs_rehash(stored):
            self._conn.execute("UPDATE users SET password_hash=? WHERE name=?",
                               (_HASHER.hash(password), name))
        return User(row["name"], Role(row["role"]))

    def create_session(self, user: User, ttl_s: float = SESSION_TTL_S) -> tuple[str, Session]:
        """(cookie token, session); the token is shown once and stored only as its hash."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time()
        self._conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
        self._conn.execute(
            "INSERT INTO sessions(token_sha256, user_name, csrf_token, created_at, expires_at)"
            " VALUES (?,?,?,?,?)", (_sha(token), user.name, csrf, now, now + ttl_s),
        )
        return token, Session(user, csrf, now + ttl_s)

    def session(self, token: str) -> Session | None:
        row = self._conn.execute(
            "SELECT s.csrf_token, s.expires_at, u.name, u.role FROM sessions s"
            " JOIN users u ON u.name = s.user_name WHERE s.token_sha256=? AND u.active=1",
            (_sha(token),),
        ).fetchone()
        if row is None or row["expires_at"] < time.time():
            return None
        return Session(User(row["name"], Role(row["role"])), row["csrf_token"], row["expires_at"])

    def end_session(self, token: str) -> None:
        self._conn.execute("DELETE FROM sessions WHERE token_sha256=?", (_sha(token),))


_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
