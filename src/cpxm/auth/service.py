"""Users, passwords, sessions, lockout and API tokens; the caller owns the transaction."""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.access.principal import hash_secret
from cpxm.access.roles import Role, parse_role
from cpxm.auth import throttle
from cpxm.auth.models import ApiToken, UserSession
from cpxm.errors import DomainError, NotFoundError
from cpxm.textmatch import contains_text
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Team, User

# argon2id with the library's defaults (RFC 9106 low-memory profile): ~50 ms per check here.
password_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the email is unknown, so timing does not reveal which emails
    exist. Made on first use: hashing costs 0.1 s that `cpxm` commands should not pay to start."""
    return password_hasher.hash(secrets.token_urlsafe(16))


MIN_PASSWORD_LENGTH = 12
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0-4 scale: 3 needs about 10^8 guesses or more
SESSION_LIFETIME = timedelta(hours=12)
TOKEN_PREFIX = "cpxm_"  # noqa: S105 (a marker that makes leaked tokens greppable)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SignInFailed(DomainError):
    status_code = 401


def hash_password(password: str, *, user: User | None = None) -> str:
    """The argon2 hash of a password the policy accepts (see `check_password_policy`)."""
    check_password_policy(password, user_inputs=_personal_words(user))
    return password_hasher.hash(password)


def check_password_policy(password: str, *, user_inputs: list[str] | None = None) -> None:
    """Refuse passwords shorter than 12 characters or easy to guess.

    Length alone let "aaaaaaaaaaaa" through. zxcvbn estimates the guesses an attacker needs from
    its lists of common and breached passwords, words, names, keyboard patterns, repeats and
    dates (and the user's own email, given as ``user_inputs``); a score below 3 means fewer than
    10^8 guesses, which an offline attack on a stolen hash table would afford.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    from zxcvbn import zxcvbn  # its word lists take 0.1 s to load; only password changes pay

    # zxcvbn's cost grows with length; beyond 100 characters a password is long enough.
    estimate = zxcvbn(password[:100], user_inputs=user_inputs or [])
    if estimate["score"] < MIN_PASSWORD_SCORE:
        feedback = estimate.get("feedback") or {}
        reason = feedback.get("warning") or "it is too easy to guess"
        hints = " ".join(feedback.get("suggestions") or [])
        raise DomainError(
            f"choose a harder password: {reason.rstrip('.').lower()}. {hints}".strip()
        )


def _personal_words(user: User | None) -> list[str]:
    if user is None:
        return []
    local = user.email.split("@")[0]
    return [user.email, local, *re.split(r"[._+-]", local), user.display_name or ""]


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise DomainError(f"'{email}' is not an email address")
    return email


def get_user_by_email(session: Session, *, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    session: Session,
    *,
    email: str,
    role: str | Role,
    password: str | None = None,
    display_name: str | None = None,
    team_id: int | None = None,
) -> User:
    """A new user; without a password they can sign in only by SSO or use API tokens."""
    email = normalise_email(email)
    checked_role = role if isinstance(role, Role) else parse_role(role)
    if get_user_by_email(session, email=email) is not None:
        raise DomainError(f"a user with email {email} exists already")
    if team_id is not None and session.get(Team, team_id) is None:
        raise NotFoundError("team", team_id)
    user = User(
        email=email,
        display_name=display_name or email.split("@")[0],
        role=checked_role.value,
        password_hash=None
        if password is None
        else hash_password(password, user=User(email=email, display_name=display_name or "")),
        team_id=team_id,
        is_active=True,
        failed_sign_ins=0,
    )
    session.add(user)
    session.flush()
    return user


def update_user(
    session: Session,
    *,
    user: User,
    role: str | None = None,
    team_id: int | None = None,
    is_active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user; a new password, a new role or deactivation ends every session and token.

    A reset is how an admin answers a suspected compromise, and a role change must not leave
    sessions running with the rights the user no longer has: both take effect at once.
    """
    role_changed = role is not None and parse_role(role).value != user.role
    if role is not None:
        user.role = parse_role(role).value
    if team_id is not None:
        if session.get(Team, team_id) is None:
            raise NotFoundError("team", team_id)
        user.team_id = team_id
    if is_active is not None:
        user.is_active = is_active
    if password is not None:
        user.password_hash = hash_password(password, user=user)
        user.failed_sign_ins = 0
        user.locked_until = None
    if role_changed or password is not None or is_active is False:
        end_all_sessions(session, user=user)
    session.flush()
    return user


def end_all_sessions(session: Session, *, user: User) -> None:
    """Sign ``user`` out everywhere: delete their sessions and revoke their API tokens."""
    now = utc_now()
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


@dataclass(frozen=True)
class NewSession:
    """A started session; ``token`` goes into the cookie and is never stored."""

    token: str
    csrf_token: str
    user: User
    expires_at: datetime


def authenticate(session: Session, *, email: str, password: str, address: str = "unknown") -> User:
    """The user whose password this is; failures are throttled by `cpxm.auth.throttle`.

    Refuses with one message whether the email is unknown or the password wrong, and throttles
    unknown emails exactly as known ones, so neither the answer nor the lockout tells an
    attacker which accounts exist. ``address`` is the client's (the proxy's client when run
    with ``--proxy-headers``). Failure counts are flushed by the caller's transaction even
    though the request fails: the endpoint commits them first.
    """
    now = utc_now()
    throttle.check_allowed(session, email=email, address=address, now=now)
    user = get_user_by_email(session, email=email)
    known = user is not None and user.password_hash is not None and user.is_active
    if user is None or user.password_hash is None or not known:
        verify_quietly(_dummy_hash(), password)
        right = False
    else:
        right = verify_quietly(user.password_hash, password)
    if not right:
        locked = throttle.record_failure(session, email=email, address=address, now=now)
        if user is not None and known:
            user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
            if locked:
                # Shown to admins; the lock itself holds only at the address it came from.
                user.locked_until = now + throttle.LOCKOUT
            audit.record(
                session,
                user_id=user.id,
                action="sign_in_failed",
                entity_type="users",
                entity_id=user.id,
            )
        session.flush()
        if locked:
            throttle.check_allowed(session, email=email, address=address, now=now)
        raise SignInFailed("the email or password is wrong")
    assert user is not None and user.password_hash is not None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    throttle.record_success(session, email=email, address=address)
    user.failed_sign_ins = 0
    user.locked_until = None
    session.flush()
    return user


def verify_quietly(password_hash: str, password: str) -> bool:
    try:
        return password_hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def start_session(session: Session, *, user: User, method: str = "password") -> NewSession:
    now = utc_now()
    token = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    session.add(
        UserSession(
            token_hash=hash_secret(token),
            user_id=user.id,
            csrf_token=csrf_token,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            method=method,
        )
    )
    user.last_sign_in_at = now
    # Expired sessions of this user go when they sign in again: the table does not grow forever.
    session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now)
    )
    audit.record(
        session,
        user_id=user.id,
        action="sign_in",
        entity_type="users",
        entity_id=user.id,
        details={"method": method},
    )
    session.flush()
    return NewSession(token=token, csrf_token=csrf_token, user=user, expires_at=expires_at)


def end_session(session: Session, *, token: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == hash_secret(token)))


@dataclass(frozen=True)
class NewApiToken:
    token: str
    api_token: ApiToken


def create_api_token(
    session: Session, *, user: User, name: str = "cli", expires_at: datetime | None = None
) -> NewApiToken:
    """A new bearer token for ``user``; the plain token is returned once and never stored."""
    if not user.is_active:
        raise DomainError(f"user {user.email} is deactivated")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    api_token = ApiToken(
        user_id=user.id,
        name=name.strip()[:120] or "token",
        prefix=token[:12],
        token_hash=hash_secret(token),
        created_at=utc_now(),
        expires_at=expires_at,
    )
    session.add(api_token)
    session.flush()
    return NewApiToken(token=token, api_token=api_token)


def revoke_api_token(session: Session, *, token_id: int) -> ApiToken:
    api_token = session.get(ApiToken, token_id)
    if api_token is None:
        raise NotFoundError("API token", token_id)
    api_token.revoked_at = api_token.revoked_at or utc_now()
    session.flush()
    return api_token


USER_SORTS = (
    ("name", "Name"),
    ("email", "Email"),
    ("newest", "Newest first"),
    ("last_sign_in", "Last signed in"),
)
USER_STATES = ("active", "deactivated", "locked")


def list_users(
    session: Session,
    *,
    limit: int,
    offset: int,
    q: str | None = None,
    role: str | None = None,
    team_id: int | None = None,
    state: str | None = None,
    sort: str = "email",
    now: datetime | None = None,
) -> tuple[list[User], int]:
    """People with access, filtered: ``q`` in the name or email, a role, a team, a state
    (``USER_STATES``); ordered by ``sort`` (``USER_SORTS``, or ``email``)."""
    query = select(User)
    if q:
        query = query.where(
            or_(
                contains_text(User.email, q.strip()),
                contains_text(User.display_name, q.strip()),
            )
        )
    if role:
        query = query.where(User.role == role)
    if team_id is not None:
        query = query.where(User.team_id == team_id)
    if state == "active":
        query = query.where(User.is_active.is_(True))
    elif state == "deactivated":
        query = query.where(User.is_active.is_(False))
    elif state == "locked":
        query = query.where(User.locked_until > (now or utc_now()))
    elif state:
        raise DomainError(f"state is '{state}', expected one of {', '.join(USER_STATES)}")
    orders: dict[str, list[Any]] = {
        "email": [User.email],
        "name": [User.display_name, User.email],
        "newest": [User.created_at.desc(), User.id.desc()],
        "last_sign_in": [User.last_sign_in_at.is_(None), User.last_sign_in_at.desc(), User.email],
    }
    if sort not in orders:
        raise DomainError(f"sort is '{sort}', expected one of {', '.join(orders)}")
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    users = session.scalars(query.order_by(*orders[sort]).limit(limit).offset(offset)).all()
    return list(users), total


def create_team(
    session: Session,
    *,
    name: str,
    department_code: str | None = None,
    country_code: str | None = None,
    therapeutic_area_code: str | None = None,
) -> Team:
    """A team: a department in a country for a therapeutic area, any part left open."""
    from cpxm.workspace.models import Country, Department, TherapeuticArea

    name = name.strip()
    if not name:
        raise DomainError("a team needs a name")
    if session.scalar(select(Team).where(Team.name == name)) is not None:
        raise DomainError(f"a team named '{name}' exists already")
    for model, code, label in (
        (Department, department_code, "department"),
        (Country, country_code, "country"),
        (TherapeuticArea, therapeutic_area_code, "therapeutic area"),
    ):
        if code is not None and session.get(model, code) is None:
            raise DomainError(f"unknown {label} code '{code}'")
    team = Team(
        name=name,
        department_code=department_code,
        country_code=country_code,
        therapeutic_area_code=therapeutic_area_code,
    )
    session.add(team)
    session.flush()
    return team


def list_teams(session: Session, *, limit: int, offset: int) -> tuple[list[Team], int]:
    total = session.scalar(select(func.count()).select_from(Team)) or 0
    teams = session.scalars(select(Team).order_by(Team.name).limit(limit).offset(offset)).all()
    return list(teams), total


def get_user(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user", user_id)
    return user
