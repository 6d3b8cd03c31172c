"""The API docs (Swagger UI and ReDoc) served from installed files, never from a CDN.

A deployment behind a firewall cannot reach a CDN, and the docs page was blank there. The
``fastapi-offline`` package (PyPI, pinned in the lock file) ships the swagger-ui and redoc
distribution files; they are served from its installed folder at a URL naming its version,
cached for a year. Nothing is copied into this repository.
"""

from __future__ import annotations

import importlib.metadata
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response

from cpxm.access import PUBLIC, requires
from cpxm.errors import NotFoundError
from cpxm.web.assets import IMMUTABLE

ASSETS_VERSION = importlib.metadata.version("fastapi-offline")
ASSETS_PREFIX = f"/static/vendor/apidocs-{ASSETS_VERSION}"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
}
FAVICON = "/static/favicon.svg"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"

router = APIRouter(include_in_schema=False, dependencies=[requires(PUBLIC)])


@cache
def _asset(name: str) -> bytes:
    return (files("fastapi_offline") / "static" / name).read_bytes()


@router.get(ASSETS_PREFIX + "/{name}")
def api_docs_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFoundError("file", name)
    return Response(_asset(name), media_type=ASSETS[name], headers={"Cache-Control": IMMUTABLE})


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        oauth2_redirect_url=OAUTH2_REDIRECT,
        swagger_js_url=f"{ASSETS_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PREFIX}/swagger-ui.css",
        swagger_favicon_url=FAVICON,
    )


@router.get(OAUTH2_REDIRECT, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API reference",
        redoc_js_url=f"{ASSETS_PREFIX}/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico before reading a page's icon link: answer with ours."""
    return Response(
        (files("cpxm.web") / "static" / "favicon.svg").read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
