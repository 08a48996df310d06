"""Web hardening that is not about who is logged in: login throttling and response headers.

Login throttling: after ``MAX_FAILURES`` wrong passwords for one user name, or
``MAX_FAILURES_PER_HOST`` from one client address, within ``WINDOW_S``, further attempts are
refused with 429 (even with the right password) for a lock-out that doubles on each repeat, up
to ``MAX_LOCKOUT_S``. State is per process (one ``lipo-node serve``), in memory: a restart
clears it (an attacker cannot trigger one from the web), and a deployment that ran several web
processes behind one address would count each process apart (the node runs one; a shared
counter in the database would be the fix). Every failed and every refused login is logged
with the client address and a pseudonym of the user name (``phash``): a user name may be a
password typed into the wrong field. Every attempt, successful ones included, is also an
``audit`` row of kind ``login`` (node.worklist.routes.auth).

Headers (OWASP secure headers): the pages may not be framed (``X-Frame-Options: DENY`` and
CSP ``frame-ancestors 'none'``: click-jacking of the review buttons), load scripts, styles and
workers only from the node itself, and never sniff content types or leak the URL (which
holds job ids) to another site in a Referer.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.logs import phash

log = logging.getLogger(__name__)

MAX_FAILURES = 5
MAX_FAILURES_PER_HOST = 20
WINDOW_S = 15 * 60.0
FIRST_LOCKOUT_S = 60.0
MAX_LOCKOUT_S = 3600.0

#: NiiVue renders with WebGL and may start blob workers and WebAssembly; nothing else needs
#: more than 'self'. Inline styles are allowed (the viewer sizes its canvas with them).
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
       "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on a form
    # POST, and the login route's Origin check (CSRF defence) would refuse every login
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


@dataclass
class _Counter:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0
    lockouts: int = 0


class LoginThrottle:
    """Counts failed logins per user name and per client address; see the module docstring."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._users: dict[str, _Counter] = {}
        self._hosts: dict[str, _Counter] = {}
        self._lock = threading.Lock()

    def retry_after(self, username: str, host: str) -> float:
        """Seconds until this user/host may try again; 0 when a try is allowed now."""
        now = self._clock()
        with self._lock:
            waits = [c.locked_until - now for c in self._counters(username, host)]
        wait = max([0.0, *waits])
        if wait > 0:
            log.warning("login refused (locked out %.0f s more) for user %s from %s",
                        wait, phash(username.lower()), host)
        return wait

    def failed(self, username: str, host: str) -> None:
        now = self._clock()
        log.warning("failed login for user %s from %s", phash(username.lower()), host)
        with self._lock:
            user, client = self._counters(username, host)
            for counter, limit in ((user, MAX_FAILURES), (client, MAX_FAILURES_PER_HOST)):
                counter.failures = [t for t in counter.failures if now - t < WINDOW_S] + [now]
                if len(counter.failures) >= limit:
                    lockout = min(MAX_LOCKOUT_S, FIRST_LOCKOUT_S * 2 ** counter.lockouts)
                    counter.locked_until, counter.failures = now + lockout, []
                    counter.lockouts += 1
                    log.warning("login locked for %.0f s (user %s, host %s)", lockout,
                                phash(username.lower()), host)

    def succeeded(self, username: str, host: str) -> None:
        with self._lock:
            self._users.pop(username.lower(), None)

    def _counters(self, username: str, host: str) -> tuple[_Counter, _Counter]:
        return (self._users.setdefault(username.lower(), _Counter()),
                self._hosts.setdefault(host, _Counter()))


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      *[(k, v) for k, v in HEADERS if k not in present]]
            await send(message)

        await self.app(scope, receive, with_headers)
