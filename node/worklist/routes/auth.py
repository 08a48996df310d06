"""``/login`` and ``/logout``: form login against the local users (node.worklist.users).

The login form has no session yet, so its CSRF defence is SameSite=Strict plus an Origin check;
every later state change carries the session's CSRF token (node.worklist.auth). Failed logins
are logged and throttled (node.worklist.security.LoginThrottle); every attempt (succeeded,
failed, refused while locked out) is an ``audit`` row of kind ``login``.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from node.logs import phash
from node.store import AuditEvent, AuditKind, AuditResult
from node.store.audit import append_audit
from node.worklist.auth import COOKIE, CurrentPageSession
from node.worklist.users import UserStore

log = logging.getLogger(__name__)
router = APIRouter(tags=["auth"])


def _safe_next(target: str) -> str:
    """Only local paths: no open redirect to another site."""
    parts = urlsplit(target)
    return target if target.startswith("/") and not parts.netloc and not target.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/") -> Response:
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-origin login refused")
    throttle = request.app.state.login_throttle
    host = request.client.host if request.client else "-"
    wait = throttle.retry_after(username, host)
    if wait > 0:  # checked before the password, so a locked account cannot be probed
        _audit(request, AuditResult.REFUSED, host, f"locked out; user {phash(username.lower())}")
        return request.app.state.templates.TemplateResponse(
            request, "login.html", {"next": _safe_next(next),
                                    "error": "Too many failed logins; try again later."},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(int(wait) + 1)})
    with UserStore(request.app.state.cfg.db_path) as store:
        user = store.authenticate(username, password)
        if user is None:
            throttle.failed(username, host)
            _audit(request, AuditResult.FAILED, host, f"user {phash(username.lower())}")
            return request.app.state.templates.TemplateResponse(
                request, "login.html", {"next": _safe_next(next), "error": "Wrong user name or password."},
                status_code=status.HTTP_401_UNAUTHORIZED)
        throttle.succeeded(username, host)
        token, session = store.create_session(user)
    _audit(request, AuditResult.SUCCEEDED, host, f"user {user.name}")
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        max_age=int(session.expires_at - time.time()),
                        secure=request.url.scheme == "https")
    return response


def _audit(request: Request, result: AuditResult, host: str, detail: str) -> None:
    """One audit row per login attempt. A failed or refused attempt names its user only by
    hash: what was typed may be a mistyped password, not a user name."""
    try:
        append_audit(request.app.state.cfg.db_path, AuditEvent(
            kind=AuditKind.LOGIN, result=result, host=host, detail=detail))
    except Exception:  # the audit must not turn a login into a 500
        log.exception("could not write login audit row")


@router.post("/logout")
def logout(request: Request, session: CurrentPageSession) -> Response:
    token = request.cookies.get(COOKIE, "")
    with UserStore(request.app.state.cfg.db_path) as store:
        store.end_session(token)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/")
    return response
