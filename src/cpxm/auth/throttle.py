"""Slowing down password guessing without letting a stranger lock anyone out.

A lock per account alone let anyone lock out the admin by typing a wrong password five times,
and answered 429 for real accounts but 401 for unknown ones, which told an attacker which
emails exist. Here failures are counted per (email, source address) and per source address:

- five failures for one email from one address lock that email *at that address* for 15
  minutes; the owner signing in from elsewhere is not affected;
- fifty failures from one address, whatever the emails, lock the address for 15 minutes
  (spraying one password across many accounts);
- unknown emails count exactly as known ones, and every refusal reads the same.

Online guessing stays hopeless against the password policy (zxcvbn score >= 3, about 10^8
guesses) at five guesses per address per quarter hour.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cpxm.auth.models import SignInThrottle
from cpxm.errors import DomainError

FAILURES_PER_ACCOUNT_AT_ADDRESS = 5
FAILURES_PER_ADDRESS = 50
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


class SignInThrottled(DomainError):
    status_code = 429


@dataclass(frozen=True)
class _Key:
    key_hash: str
    email_hash: str
    limit: int


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _keys(email: str, address: str) -> list[_Key]:
    email_hash = _digest(email.strip().lower())
    return [
        _Key(
            _digest(f"account\0{email_hash}\0{address}"),
            email_hash,
            FAILURES_PER_ACCOUNT_AT_ADDRESS,
        ),
        _Key(_digest(f"address\0{address}"), "", FAILURES_PER_ADDRESS),
    ]


def _refusal(until: datetime, now: datetime) -> SignInThrottled:
    minutes = max(1, round((until - now).total_seconds() / 60))
    return SignInThrottled(f"too many failed sign-ins from here: try again in {minutes} minute(s)")


def check_allowed(session: Session, *, email: str, address: str, now: datetime) -> None:
    """Refuse (429) while this email at this address, or this address, is locked."""
    hashes = [key.key_hash for key in _keys(email, address)]
    locked = session.scalars(
        select(SignInThrottle.locked_until).where(
            SignInThrottle.key_hash.in_(hashes), SignInThrottle.locked_until > now
        )
    ).all()
    until = [moment for moment in locked if moment is not None]
    if until:
        raise _refusal(max(until), now)


def record_failure(session: Session, *, email: str, address: str, now: datetime) -> bool:
    """Count a failed sign-in; True when it locked the email here or the address."""
    _forget_expired(session, now=now)
    locked_now = False
    for key in _keys(email, address):
        row = session.get(SignInThrottle, key.key_hash)
        if row is None:
            try:
                with session.begin_nested():
                    row = SignInThrottle(
                        key_hash=key.key_hash,
                        email_hash=key.email_hash,
                        failures=0,
                        window_started_at=now,
                        locked_until=None,
                    )
                    session.add(row)
            except IntegrityError:  # a concurrent failure created it first
                row = session.get(SignInThrottle, key.key_hash)
                if row is None:
                    continue
        elif row.window_started_at + WINDOW <= now:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= key.limit:
            row.locked_until = now + LOCKOUT
            row.failures = 0
            row.window_started_at = now
            locked_now = True
    session.flush()
    return locked_now


def record_success(session: Session, *, email: str, address: str) -> None:
    """A right password clears this email's count at this address (not the address's)."""
    account_key = _keys(email, address)[0]
    session.execute(delete(SignInThrottle).where(SignInThrottle.key_hash == account_key.key_hash))


def unlock_account(session: Session, *, email: str) -> int:
    """Clear every lock and count of this email, at every address (an admin's unlock)."""
    result = session.execute(
        delete(SignInThrottle).where(SignInThrottle.email_hash == _digest(email.strip().lower()))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _forget_expired(session: Session, *, now: datetime) -> None:
    session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.window_started_at < now - WINDOW,
            or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until <= now),
        )
    )
