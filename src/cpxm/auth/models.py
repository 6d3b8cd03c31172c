"""Sign-in state: server-side sessions and API tokens.

Only hashes of secrets are stored (SHA-256 of 32 random bytes: a stolen database dump lets nobody
sign in); the secret itself goes to the browser as a cookie or to the integrator once, on creation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class UserSession(Base):
    """A signed-in browser: the cookie carries the secret, the row its hash and CSRF token."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    # "password" or "oidc": how the person proved who they are.
    method: Mapped[str] = mapped_column(String(20))


class ApiToken(Base):
    """A bearer token for an integration, acting as its user (and never more than that role)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # The first characters of the token, shown in lists so a person can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class SignInThrottle(Base):
    """Failed sign-ins counted per email at one address, and per address across emails.

    Unknown emails are counted exactly as known ones, so a refusal never tells which accounts
    exist. Keys are SHA-256 digests, and a row goes once its window and lock have passed.
    """

    __tablename__ = "sign_in_throttle"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The digest of the email ('' for a per-address row), so an admin can unlock an account.
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


class ElectronicSignature(Base):
    """A signed regulated decision (21 CFR 11.50/11.70, EU GMP Annex 11 §14): who (name and
    account, having just re-entered their password), when (UTC), what it means, why, and which
    record in which state (a SHA-256 of the record's signed fields), so the signature cannot be
    copied to another record or survive an edit unnoticed. Append-only in the store (migration
    0023), like ``audit_log``.
    """

    __tablename__ = "electronic_signatures"
    __table_args__ = (Index("ix_electronic_signatures_record", "record_kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signed_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The signer's email and printed name as they were when signing: a later rename does not
    # change what was signed.
    signer_email: Mapped[str] = mapped_column(String(320))
    signer_name: Mapped[str] = mapped_column(String(200))
    # "safety_cases" / "governance_matrix": the kind of record, and its id within that kind.
    record_kind: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))  # confirm, reject, reclassify, replace, ...
    meaning: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    record_hash: Mapped[str] = mapped_column(String(64))
    # How the signer proved who they are at the moment of signing: "password".
    method: Mapped[str] = mapped_column(String(20))
