"""Sign-in and sign-out pages; the session cookie and its flags are set here and only here."""

from __future__ import annotations

import hmac
import os
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cpxm.access import PUBLIC, SignedIn, requires
from cpxm.access.principal import SESSION_COOKIE
from cpxm.auth import service, throttle
from cpxm.deps import DbSession
from cpxm.web.templating import templates

router = APIRouter(prefix="/auth", include_in_schema=False)

# Before a session exists, the sign-in form is protected by a double-submit token: a random
# value in a cookie that a cross-site form cannot read, and the same value in the form.
SIGN_IN_CSRF_COOKIE = "cpxm_sign_in_csrf"


def secure_cookies() -> bool:
    """Cookies carry the Secure flag unless the operator serves plain HTTP on purpose."""
    return os.environ.get("CPXM_INSECURE_COOKIES", "").strip().lower() not in {"1", "true", "yes"}


def safe_next(target: str | None) -> str:
    """Only a local path: an open redirect would let a phishing link borrow our sign-in page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def set_session_cookie(response: Response, token: str) -> None:
    """Hand the browser its session, with the same flags whichever way it signed in."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(service.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        secure=secure_cookies(),
        samesite="lax",
        path="/",
    )


def _sign_in_form(
    request: Request, *, next_path: str, error: str | None = None, status_code: int = 200
) -> Response:
    form_token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request,
        "auth/sign_in.html",
        {
            "csrf_token": form_token,
            "next_path": safe_next(next_path),
            "error": error,
            "sso_enabled": bool(os.environ.get("CPXM_OIDC_ISSUER")),
            "active_nav": "",
        },
        status_code=status_code,
    )
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE,
        form_token,
        max_age=3600,
        httponly=True,
        secure=secure_cookies(),
        samesite="strict",
        path="/auth",
    )
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/sign-in", response_class=HTMLResponse, dependencies=[requires(PUBLIC)])
def sign_in_page(request: Request, next: str = "/") -> Response:
    return _sign_in_form(request, next_path=next)


def client_address(request: Request) -> str:
    """The address failed sign-ins are counted against (the client's, behind a trusted proxy
    when uvicorn runs with ``--proxy-headers``)."""
    return request.client.host if request.client else "unknown"


@router.post("/sign-in", dependencies=[requires(PUBLIC)])
def sign_in(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = request.cookies.get(SIGN_IN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _sign_in_form(
            request,
            next_path=next,
            error="The form expired. Please sign in again.",
            status_code=403,
        )
    try:
        user = service.authenticate(
            session, email=email, password=password, address=client_address(request)
        )
    except (service.SignInFailed, throttle.SignInThrottled) as refusal:
        # The failure count must outlive this refused request.
        session.commit()
        return _sign_in_form(
            request, next_path=next, error=str(refusal.detail), status_code=refusal.status_code
        )
    started = service.start_session(session, user=user)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, started.token)
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path="/auth")
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: DbSession, principal: SignedIn) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.end_session(session, token=token)
    response = RedirectResponse("/auth/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure_cookies(), httponly=True)
    return response
