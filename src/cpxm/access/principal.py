"""Who is asking: the principal behind a request, from a session cookie or a bearer token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cpxm.access.roles import ROLE_DOMAINS, Domain, Role
from cpxm.auth.models import ApiToken, UserSession
from cpxm.timeutil import utc_now
from cpxm.workspace.models import User

if TYPE_CHECKING:
    from fastapi import Request

SESSION_COOKIE = "cpxm_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Principal:
    """A signed-in user as the access rules see them."""

    user_id: int
    email: str
    display_name: str
    role: Role
    # "session" (a browser; unsafe methods need the CSRF token) or "token" (an integration).
    method: str
    csrf_token: str | None = None

    @property
    def domains(self) -> frozenset[Domain]:
        return ROLE_DOMAINS[self.role]

    def can_see(self, domain: Domain) -> bool:
        return domain in self.domains

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough for random tokens (passwords use argon2)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def principal_from_session_token(session: Session, token: str) -> Principal | None:
    now = utc_now()
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == hash_secret(token))
    ).first()
    if row is None:
        return None
    user_session, user = row
    if user_session.expires_at <= now or not user.is_active:
        return None
    # Only touch the row once a minute: every page view must not be a write.
    if (now - user_session.last_seen_at).total_seconds() > 60:
        session.execute(
            update(UserSession).where(UserSession.id == user_session.id).values(last_seen_at=now)
        )
    return _principal(user, method="session", csrf_token=user_session.csrf_token)


def principal_from_api_token(session: Session, token: str) -> Principal | None:
    now = utc_now()
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_secret(token))
    ).first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked_at is not None or not user.is_active:
        return None
    if api_token.expires_at is not None and api_token.expires_at <= now:
        return None
    if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
        session.execute(
            update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now)
        )
    return _principal(user, method="token")


def _principal(user: User, *, method: str, csrf_token: str | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=Role(user.role),
        method=method,
        csrf_token=csrf_token,
    )


def principal_of(session: Session, request: Request) -> Principal | None:
    """The principal of ``request``: a bearer token wins over a session cookie; None if neither."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return principal_from_api_token(session, credentials.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return principal_from_session_token(session, cookie)
    return None
