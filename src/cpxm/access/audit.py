"""The audit log: every change made on behalf of a principal, and every read of
patient-identifiable data (who, what, when, why).

Changes are recorded in one place: a ``Session`` ``after_flush`` hook writes one entry per
inserted, updated or deleted row of any table, for every session that carries a principal (each
request does, from its policy). Jobs and the CLI act as the system and are recorded by their own
ledgers (import runs, case events). Reads are recorded by :func:`record_read`, which the
patient-identifiable shields call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session, UOWTransaction

from cpxm.access.principal import Principal
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry

PRINCIPAL_KEY = "cpxm_principal"
REASON_KEY = "cpxm_audit_reason"
REASON_HEADER = "x-audit-reason"
# Rows that are bookkeeping of signing in, recorded as sign-in events instead.
UNAUDITED_TABLES = frozenset({"audit_log", "user_sessions"})


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
            changed = (
                [attr.key for attr in state.attrs if attr.history.has_changes()]
                if action == "update"
                else []
            )
            if action == "update" and not changed:
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
                    # Column names only: the log must not become a second copy of personal data.
                    "details": {"fields": sorted(changed)} if changed else None,
                }
            )
    if rows:
        session.connection().execute(insert(AuditLogEntry), rows)
