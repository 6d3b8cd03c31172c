"""How refusals look: JSON for the API, a redirect to the sign-in page for pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from cpxm.access.policy import NotSignedIn

SIGN_IN_PATH = "/auth/sign-in"


async def _not_signed_in(request: Request, error: Exception) -> Response:
    assert isinstance(error, NotSignedIn)
    if request.url.path.startswith("/api/") or request.method != "GET":
        return JSONResponse(
            {"detail": error.detail},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="cpxm"'},
        )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(target, safe='')}", status_code=303)


def install_access_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotSignedIn, _not_signed_in)
