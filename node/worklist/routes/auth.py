"""``/login`` and ``/logout``: form login against the local users (node.worklist.users).

The login form has no session yet, so its CSRF defence is SameSite=Strict plus an Origin check;
every later state change carries the session's CSRF token (node.worklist.auth). Failed logins
are logged and throttled (node.worklist.security.LoginThrottle).
"""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from node.worklist.auth import COOKIE, CurrentPageSession
from node.worklist.users import UserStore

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
        return request.app.state.templates.TemplateResponse(
            request, "login.html", {"next": _safe_next(next),
                                    "error": "Too many failed logins; try again later."},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(int(wait) + 1)})
    with UserStore(request.app.state.cfg.db_path) as store:
        user = store.authenticate(username, password)
        if user is None:
            throttle.failed(username, host)
            return request.app.state.templates.TemplateResponse(
                request, "login.html", {"next": _safe_next(next), "error": "Wrong user name or password."},
                status_code=status.HTTP_401_UNAUTHORIZED)
        throttle.succeeded(username, host)
        token, session = store.create_session(user)
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        max_age=int(session.expires_at - time.time()),
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, session: CurrentPageSession) -> Response:
    token = request.cookies.get(COOKIE, "")
    with UserStore(request.app.state.cfg.db_path) as store:
        store.end_session(token)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/")
    return response
