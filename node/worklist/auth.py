"""Login dependencies: ``CurrentUser`` for every page and API, CSRF on state changes.

The session cookie is HttpOnly (scripts cannot read it) and SameSite=Strict (no cross-site
request carries it). On top, every state-changing request (POST/PUT/PATCH/DELETE) must send the
session's CSRF token in the ``X-CSRF-Token`` header or a ``csrf_token`` form field
(synchroniser-token pattern); a missing or wrong token is 403.

Wiring: ``create_app(cfg, api_dependencies=[Depends(require_api_user)])`` guards the jobs API;
pages and review routes use ``CurrentUser`` / ``CurrentPageUser`` directly.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from node.worklist.users import Role, Session, User, UserStore

COOKIE = "lipo_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def session_from_request(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    with UserStore(request.app.state.cfg.db_path) as store:
        return store.session(token)


async def _check_csrf(request: Request, session: Session) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


async def current_session(request: Request) -> Session:
    """API flavour: 401 without a valid session, 403 without the CSRF token on a change."""
    session = session_from_request(request)
    if session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "login required",
                            headers={"WWW-Authenticate": "Cookie"})
    await _check_csrf(request, session)
    request.state.session = session
    return session


async def require_api_user(request: Request) -> User:
    return (await current_session(request)).user


async def current_page_session(request: Request) -> Session:
    """Page flavour: redirect to the login page instead of 401."""
    session = session_from_request(request)
    if session is None:
        raise LoginRequired(str(request.url.path))
    await _check_csrf(request, session)
    request.state.session = session
    return session


def require_admin(session: Annotated[Session, Depends(current_session)]) -> User:
    if session.user.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin role required")
    return session.user


CurrentSession = Annotated[Session, Depends(current_session)]
CurrentUser = Annotated[User, Depends(require_api_user)]
CurrentPageSession = Annotated[Session, Depends(current_page_session)]
AdminUser = Annotated[User, Depends(require_admin)]
