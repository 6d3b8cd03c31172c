"""The audit log: every change made on behalf of a principal, and every read of
patient-identifiable data (who, what, when, why).

Changes are recorded in one place: a ``Session`` ``after_flush`` hook writes one entry per
inserted, updated or deleted row of any table, for every session that carries a principal (each
request does, from its policy; so does a command run with ``CPXM_TOKEN``). An update records
each changed column's old and new value, personal data and free text as fingerprints. Jobs and
the CLI act as the system and are recorded by their own
ledgers (import runs, case events). Reads are recorded by :func:`record_read`, which the
patient-identifiable shields call.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session, UOWTransaction

from cpxm.access.principal import Principal
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry

PRINCIPAL_KEY = "cpxm_principal"
REASON_KEY = "cpxm_audit_reason"
REASON_HEADER = "x-audit-reason"
# Rows that are bookkeeping of signing in (and of signing), recorded as their own events instead.
UNAUDITED_TABLES = frozenset({"audit_log", "user_sessions", "sign_in_throttle"})
# Personal data and free text: a change is recorded with a fingerprint of the old and new value
# (SHA-256, 12 hex digits), which proves what changed without making the audit log a second copy
# of the data an erasure or retention run must remove. Every other column is recorded in full.
FINGERPRINTED_COLUMNS = frozenset(
    {
        ("stakeholders", column)
        for column in (
            "display_name", "first_name", "last_name", "email", "phone", "address_line",
            "postal_code", "city", "birth_date", "professional_id",
        )
    }
    | {
        ("feedback_items", "text"),
        ("interactions", "notes"),
        ("answers", "value_text"),
        ("cases", "description"),
        ("safety_cases", "verbatim"),
        ("safety_cases", "reporter_identity"),
        ("safety_cases", "mentions"),
        ("safety_triage", "sentence"),
        ("safety_triage", "mentions"),
        ("source_records", "attributes"),
        ("users", "email"),
    }
)  # fmt: skip
SECRET_MARKERS = ("password", "token", "secret")


def bind_principal(session: Session, principal: Principal, *, reason: str | None) -> None:
    """Make ``session``'s changes count as ``principal``'s, with the reason they gave (if any)."""
    session.info[PRINCIPAL_KEY] = principal
    if reason:
        session.info[REASON_KEY] = reason[:1000]


def principal_of_session(session: Session) -> Principal | None:
    principal = session.info.get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else None


def record(
    session: Session,
    *,
    user_id: int | None,
    action: str,
    entity_type: str,
    entity_id: object | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry; the caller's transaction commits it with the work it describes."""
    session.execute(
        insert(AuditLogEntry).values(
            occurred_at=utc_now(),
            user_id=user_id,
            action=action,
            entity_type=entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            reason=reason or session.info.get(REASON_KEY),
            details=details,
        )
    )


def record_read(
    session: Session,
    principal: Principal,
    *,
    entity_type: str,
    entity_ids: list[int],
    purpose: str,
) -> None:
    """Record that ``principal`` saw these patient-identifiable records, and through what."""
    if not entity_ids:
        return
    record(
        session,
        user_id=principal.user_id,
        action="read",
        entity_type=entity_type,
        entity_id=entity_ids[0] if len(entity_ids) == 1 else None,
        details={"ids": entity_ids[:500], "count": len(entity_ids), "via": purpose},
    )


@event.listens_for(Session, "after_flush")
def _audit_changes(session: Session, _flush: UOWTransaction) -> None:
    principal = principal_of_session(session)
    if principal is None:
        return
    # In after_flush the new/dirty/deleted collections still show what this flush wrote, and
    # new rows already have their keys.
    now = utc_now()
    reason = session.info.get(REASON_KEY)
    rows: list[dict[str, Any]] = []
    for action, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            state = inspect(obj)
            table = state.mapper.persist_selectable
            name = getattr(table, "name", type(obj).__name__)
            if name in UNAUDITED_TABLES:
                continue
            changes = _changes(name, state) if action == "update" else {}
            if action == "update" and not changes:
                continue
            identity = state.mapper.primary_key_from_instance(obj)
            rows.append(
                {
                    "occurred_at": now,
                    "user_id": principal.user_id,
                    "action": action,
                    "entity_type": name,
                    "entity_id": "/".join(map(str, identity)),
                    "reason": reason,
                    "details": {"fields": sorted(changes), "changes": changes} if changes else None,
                }
            )
    if rows:
        session.connection().execute(insert(AuditLogEntry), rows)


def _changes(table: str, state: Any) -> dict[str, dict[str, Any]]:
    """Column -> {"old", "new"} for what this flush changed (fingerprints or "[secret]" where
    the value itself must not be kept; ``old`` is None when it was never loaded)."""
    changes: dict[str, dict[str, Any]] = {}
    for attr in state.attrs:
        history = attr.history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        changes[attr.key] = {
            "old": shown_value(table, attr.key, old),
            "new": shown_value(table, attr.key, new),
        }
    return changes


def shown_value(table: str, column: str, value: Any) -> Any:
    if value is None:
        return None
    if any(marker in column for marker in SECRET_MARKERS):
        return "[secret]"
    if (table, column) in FINGERPRINTED_COLUMNS:
        digest = hashlib.sha256(repr(value).encode()).hexdigest()[:12]
        return f"sha256:{digest}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)
