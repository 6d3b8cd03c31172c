"""Single sign-on by OpenID Connect (authlib), free and optional.

Turned on by ``CPXM_OIDC_ISSUER`` (e.g. ``https://login.example.com/realms/cpxm``) with
``CPXM_OIDC_CLIENT_ID`` and ``CPXM_OIDC_CLIENT_SECRET``; the redirect URI to register at the
provider is ``{CPXM_PUBLIC_URL}/auth/oidc/callback``. Sign-in by SSO does not create accounts:
an admin adds the person (``cpxm user add EMAIL --role ROLE --no-password``) and so decides the
role; the provider's verified email finds the account, and its subject is remembered from then on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cpxm.access import PUBLIC, requires
from cpxm.auth import service
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.workspace.models import User

router = APIRouter(prefix="/auth/oidc", include_in_schema=False)


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    public_url: str


def oidc_settings() -> OidcSettings | None:
    issuer = os.environ.get("CPXM_OIDC_ISSUER", "").strip().rstrip("/")
    if not issuer:
        return None
    client_id = os.environ.get("CPXM_OIDC_CLIENT_ID", "").strip()
    client_secret = os.environ.get("CPXM_OIDC_CLIENT_SECRET", "")
    if not client_id or not client_secret:
        raise ValueError(
            "CPXM_OIDC_ISSUER is set: set CPXM_OIDC_CLIENT_ID and CPXM_OIDC_CLIENT_SECRET"
        )
    public_url = os.environ.get("CPXM_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    return OidcSettings(issuer, client_id, client_secret, public_url)


class SsoRefused(DomainError):
    status_code = 403


def user_for_claims(session: Session, claims: dict[str, Any]) -> User:
    """The account for an ID token's claims: by subject, else by a verified email (then linked)."""
    subject = str(claims.get("sub") or "")
    if not subject:
        raise SsoRefused("the identity provider sent no subject")
    user = session.scalar(select(User).where(User.oidc_subject == subject))
    if user is None:
        email = str(claims.get("email") or "").strip().lower()
        if not email or claims.get("email_verified") is False:
            raise SsoRefused("the identity provider sent no verified email for this account")
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            raise SsoRefused(f"no CPXM account for {email}; ask an admin to add you")
        if user.oidc_subject not in (None, subject):
            raise SsoRefused(f"{email} is linked to another single sign-on identity")
        user.oidc_subject = subject
    if not user.is_active:
        raise SsoRefused(f"the account {user.email} is deactivated")
    session.flush()
    return user


def install_oidc(app: FastAPI) -> bool:
    """Register the provider and the session middleware authlib keeps its state in; False when
    SSO is not configured (the routes then answer 404)."""
    settings = oidc_settings()
    if settings is None:
        return False
    from authlib.integrations.starlette_client import OAuth
    from starlette.middleware.sessions import SessionMiddleware

    from cpxm.auth.pages import secure_cookies

    oauth = OAuth()
    oauth.register(
        "provider",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    app.state.oidc = oauth
    app.state.oidc_settings = settings
    app.add_middleware(
        SessionMiddleware,
        secret_key=os.environ.get("CPXM_SECRET_KEY") or settings.client_secret,
        session_cookie="cpxm_sso_state",
        max_age=600,
        same_site="lax",
        https_only=secure_cookies(),
    )
    return True


def _provider(request: Request) -> Any:
    oauth = getattr(request.app.state, "oidc", None)
    if oauth is None:
        raise DomainError("single sign-on is not configured (CPXM_OIDC_ISSUER)")
    return oauth.provider


@router.get("/start", dependencies=[requires(PUBLIC)])
async def start(request: Request, next: str = "/") -> Response:
    from cpxm.auth.pages import safe_next

    provider = _provider(request)
    request.session["next"] = safe_next(next)
    settings: OidcSettings = request.app.state.oidc_settings
    return await provider.authorize_redirect(  # type: ignore[no-any-return]
        request, f"{settings.public_url}/auth/oidc/callback"
    )


@router.get("/callback", dependencies=[requires(PUBLIC)])
async def callback(request: Request, session: DbSession) -> Response:
    from cpxm.auth.pages import safe_next, set_session_cookie

    provider = _provider(request)
    token = await provider.authorize_access_token(request)
    claims = dict(token.get("userinfo") or {})
    started = await run_in_threadpool(_start_session_for, session, claims)
    response = RedirectResponse(safe_next(request.session.pop("next", "/")), status_code=303)
    set_session_cookie(response, started.token)
    return response


def _start_session_for(session: Session, claims: dict[str, Any]) -> service.NewSession:
    # Off the event loop: the store may make a writer wait for its lock.
    user = user_for_claims(session, claims)
    return service.start_session(session, user=user, method="oidc")
