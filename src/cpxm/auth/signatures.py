"""Electronic signatures for regulated decisions (21 CFR Part 11 §11.50, §11.70, §11.200; EU GMP
Annex 11 §14): PV confirm / reject / reclassify and governance changes.

A signature is two steps around the change it signs:

1. :func:`authenticate_signer` before anything changes: the signed-in user re-enters their
   password and states the meaning and the reason. A wrong password is refused, written to the
   audit log and counted toward the account's lockout exactly like a failed sign-in (the caller
   commits that before answering: :func:`commit_refusal`).
2. :func:`sign` after the change, in the same transaction: it stores who (account, email and
   printed name), when (UTC), the meaning, the reason, the action and the record, with a SHA-256
   of the record's signed state, in ``electronic_signatures``, which the store keeps append-only.

A signature cannot be moved to another record (the record's kind, id and hash are in it), and
:func:`still_matches` tells whether the record has changed since it was signed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.auth import throttle
from cpxm.auth.models import ElectronicSignature
from cpxm.auth.service import password_hasher, verify_quietly
from cpxm.errors import DomainError
from cpxm.timeutil import UtcDateTime, utc_now
from cpxm.workspace.models import User

MAX_MEANING = 200
MAX_REASON = 5_000
# The columns of a record that a signature covers, per table; other tables sign every column.
# Bookkeeping that changes after a decision without changing it (export stamps, escalation
# sweeps of other cases) is left out, so "changed since signed" means the decision's content.
SIGNED_COLUMNS: dict[str, tuple[str, ...]] = {
    "safety_cases": (
        "id",
        "feedback_item_id",
        "kind",
        "subtypes",
        "status",
        "verbatim",
        "product_code",
        "product_written",
        "event_terms",
        "context",
        "reporter_stakeholder_id",
        "seriousness",
        "decided_at",
        "decided_by",
        "decision_note",
    ),
}


class SignatureIncomplete(DomainError):
    status_code = 422


class SignatureRefused(DomainError):
    """The password is wrong (or the account cannot sign): nothing was signed or changed."""

    status_code = 403


class SignatureIn(BaseModel):
    """What a signer gives: their password again, what the signature means, and why."""

    password: str = Field(max_length=1024, description="The signer's own password, re-entered.")
    # Both must say something (not only spaces): refused in the API's validation shape.
    meaning: str = Field(
        max_length=MAX_MEANING,
        pattern=r"\S",
        description='What signing means, e.g. "confirmed as adverse event".',
    )
    reason: str = Field(
        max_length=MAX_REASON, pattern=r"\S", description="Why: kept with the signature."
    )

    @classmethod
    def given(cls, *, password: str, meaning: str, reason: str) -> SignatureIn:
        """From a form or a prompt: what is missing is said in words, not as a model error."""
        _require_meaning_and_reason(meaning, reason)
        return cls(password=password, meaning=meaning, reason=reason)


def _require_meaning_and_reason(meaning: str, reason: str) -> None:
    missing = [
        name for name, value in (("meaning", meaning), ("reason", reason)) if not value.strip()
    ]
    if missing:
        raise SignatureIncomplete(
            f"a signature needs its {' and '.join(missing)}: say what signing means "
            '(e.g. "confirmed as adverse event", "approved") and why'
        )


@dataclass(frozen=True)
class Signer:
    """A user who has just proved who they are, with the meaning and reason they stated."""

    user_id: int
    email: str
    name: str
    meaning: str
    reason: str


def authenticate_signer(
    session: Session,
    *,
    user_id: int,
    password: str,
    meaning: str,
    reason: str,
    address: str = "unknown",
) -> Signer:
    """The signer, if ``password`` is theirs; a refusal otherwise (audited, counted).

    The same throttle as signing in applies: five wrong passwords for the account from one
    address lock it there for 15 minutes, and a locked account cannot sign.
    """
    meaning, reason = meaning.strip(), reason.strip()
    _require_meaning_and_reason(meaning, reason)
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise SignatureRefused("this account cannot sign: it is not an active user")
    if user.password_hash is None:
        raise SignatureRefused(
            f"{user.email} has no password (single sign-on only); an electronic signature needs "
            "the signer to re-enter a password: ask an admin to set one"
        )
    now = utc_now()
    throttle.check_allowed(session, email=user.email, address=address, now=now)
    if not verify_quietly(user.password_hash, password):
        locked = throttle.record_failure(session, email=user.email, address=address, now=now)
        user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
        if locked:
            user.locked_until = now + throttle.LOCKOUT
        audit.record(
            session,
            user_id=user.id,
            action="signature_failed",
            entity_type="users",
            entity_id=user.id,
            details={"meaning": meaning[:MAX_MEANING]},
        )
        session.flush()
        if locked:
            throttle.check_allowed(session, email=user.email, address=address, now=now)
        raise SignatureRefused("the password is wrong: nothing was signed or changed")
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    throttle.record_success(session, email=user.email, address=address)
    user.failed_sign_ins = 0
    return Signer(
        user_id=user.id,
        email=user.email,
        name=user.display_name or user.email,
        meaning=meaning[:MAX_MEANING],
        reason=reason[:MAX_REASON],
    )


def commit_refusal(session: Session) -> None:
    """Keep a refused signature's trail (audit entry, lockout count) although the request or
    command fails: only the refusal is in the transaction, as nothing was changed before it."""
    session.commit()


def record_state(record: Any) -> dict[str, Any]:
    """The signed fields of an ORM record, as plain JSON values."""
    state = inspect(record)
    table = state.mapper.persist_selectable.name
    columns = SIGNED_COLUMNS.get(table) or tuple(column.key for column in state.mapper.column_attrs)
    return {column: getattr(record, column) for column in columns}


def state_hash(state: Mapping[str, Any]) -> str:
    """SHA-256 of a record's state in canonical JSON (sorted keys, ISO dates)."""
    text = json.dumps(state, sort_keys=True, default=_plain, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def sign(
    session: Session,
    *,
    signer: Signer,
    record_kind: str,
    record_id: object,
    action: str,
    state: Mapping[str, Any],
) -> ElectronicSignature:
    """Bind ``signer``'s signature to the record in ``state`` (its state after the change)."""
    signature = ElectronicSignature(
        signed_at=utc_now(),
        user_id=signer.user_id,
        signer_email=signer.email,
        signer_name=signer.name,
        record_kind=record_kind,
        record_id=str(record_id),
        action=action,
        meaning=signer.meaning,
        reason=signer.reason,
        record_hash=state_hash(state),
        method="password",
    )
    session.add(signature)
    session.flush()
    audit.record(
        session,
        user_id=signer.user_id,
        action="sign",
        entity_type=record_kind,
        entity_id=record_id,
        reason=signer.reason,
        details={"signature_id": signature.id, "action": action, "meaning": signer.meaning},
    )
    return signature


def signatures_of(
    session: Session, *, record_kind: str, record_id: object
) -> list[ElectronicSignature]:
    """A record's signatures, oldest first: part of its history."""
    return list(
        session.scalars(
            select(ElectronicSignature)
            .where(
                ElectronicSignature.record_kind == record_kind,
                ElectronicSignature.record_id == str(record_id),
            )
            .order_by(ElectronicSignature.signed_at, ElectronicSignature.id)
        )
    )


def still_matches(signature: ElectronicSignature, state: Mapping[str, Any]) -> bool:
    """True while the record is as it was signed."""
    return signature.record_hash == state_hash(state)


class SignatureOut(BaseModel):
    id: int
    signed_at: UtcDateTime
    signer_email: str
    signer_name: str
    action: str
    meaning: str
    reason: str
    record_kind: str
    record_id: str
    record_hash: str
    method: str
    record_unchanged: bool | None = None

    @classmethod
    def of(
        cls, signature: ElectronicSignature, current: Mapping[str, Any] | None = None
    ) -> SignatureOut:
        out = cls.model_validate(signature, from_attributes=True)
        if current is not None:
            out.record_unchanged = still_matches(signature, current)
        return out


def signer_or_refusal(
    session: Session, *, user_id: int, signature: SignatureIn, address: str
) -> Signer:
    """:func:`authenticate_signer` for a request or command: a wrong password's trail (audit
    entry and lockout count) is committed before the refusal is raised."""
    try:
        return authenticate_signer(
            session,
            user_id=user_id,
            password=signature.password,
            meaning=signature.meaning,
            reason=signature.reason,
            address=address,
        )
    except (SignatureRefused, throttle.SignInThrottled):
        commit_refusal(session)
        raise
