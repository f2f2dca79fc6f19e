"""The page at ``/`` and its static assets, all served by revops itself (no CDN)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from revops.outputs.dashboard.access import COOKIE
from revops.outputs.dashboard.context import Dashboard

PACKAGE = "revops.outputs.dashboard"
# The icon travels inside the page (a data URI), so the package ships only html/css/js files.
ICON = "data:image/svg+xml," + quote(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#1f4e8c"/>'
    '<rect x="7" y="17" width="4" height="8" rx="1" fill="#fff"/>'
    '<rect x="14" y="12" width="4" height="13" rx="1" fill="#fff"/>'
    '<rect x="21" y="7" width="4" height="18" rx="1" fill="#7fd1ae"/></svg>'
)
# Only revops itself may serve what the page loads: a CDN script could not run even if added.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ASSETS = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
}


@cache
def _asset(name: str) -> bytes:
    return resources.files(PACKAGE).joinpath("static", name).read_bytes()


@cache
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    return env.get_template("index.html")


def pages_router(dash: Dashboard) -> APIRouter:
    """``GET /`` (the dashboard) and ``GET /dashboard/static/{name}``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def index(
        request: Request, token: Annotated[str | None, Query(max_length=500)] = None
    ) -> Response:
        if token and dash.access.token:
            # Trade the token in the address bar for a session cookie, then drop it from the URL.
            if not dash.access.token_ok(token):
                raise HTTPException(401, "authentication required", headers=dash.access.challenge())
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(
                COOKIE,
                dash.access.cookie_value(),
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
            return response
        dash.access.check(request)
        boot = orjson.dumps(dash.meta([])).decode().replace("</", "<\\/")
        html = _template().render(
            title=dash.settings.title,
            locale=dash.settings.locale,
            boot=boot,
            icon=ICON,
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store", **PAGE_HEADERS})

    @router.get("/dashboard/static/{name}")
    def asset(name: str, request: Request) -> Response:
        dash.access.check(request)
        if name not in ASSETS:
            raise HTTPException(404, "no such asset")
        return Response(
            _asset(name), media_type=ASSETS[name], headers={"Cache-Control": "no-cache"}
        )

    return router
