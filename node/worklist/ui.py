"""``include_worklist(app, cfg)``: adds the login, worklist and review pages to the node's app.

Static files (``static/``, with NiiVue vendored at install time into ``static/vendor/``) are
served by the app itself: the viewer works without internet access (no CDN).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from node.config import NodeConfig
from node.worklist.auth import LoginRequired
from node.worklist.routes import auth as auth_routes
from node.worklist.routes import review as review_routes
from node.worklist.routes import series as series_routes
from node.worklist.users import UserStore

HERE = Path(__file__).resolve().parent
VENDOR_NIIVUE = HERE / "static" / "vendor" / "niivue.js"


def _fmt_age(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def include_worklist(app: FastAPI, cfg: NodeConfig) -> None:
    """Mount static files, templates and the auth + review routers; create the user tables."""
    UserStore(cfg.db_path).close()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["age"] = _fmt_age
    templates.env.globals["niivue_installed"] = VENDOR_NIIVUE.is_file()
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(auth_routes.router)
    app.include_router(review_routes.router)
    app.include_router(series_routes.router)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)
