"""The audit log is append-only in the store: no UPDATE, no DELETE of an entry under a year."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.retention.service import apply_retention, set_retention
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry


def _entry(session: Session, **values: object) -> int:
    audit.record(session, user_id=None, action="confirm", entity_type="safety_cases", entity_id=7)
    session.flush()
    entry_id = session.scalar(select(func.max(AuditLogEntry.id)))
    assert entry_id is not None
    return int(entry_id)


def test_an_entry_cannot_be_changed_or_deleted_through_the_store(session: Session) -> None:
    entry_id = _entry(session)
    attempts = (
        update(AuditLogEntry).where(AuditLogEntry.id == entry_id).values(action="reject"),
        update(AuditLogEntry).values(reason="rewritten"),
        delete(AuditLogEntry).where(AuditLogEntry.id == entry_id),
        delete(AuditLogEntry),
    )
    for attempt in attempts:
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(attempt)
    session.expire_all()
    kept = session.get(AuditLogEntry, entry_id)
    assert kept is not None and (kept.action, kept.reason) == ("confirm", None)


def test_entries_older_than_a_year_age_out_by_retention(session: Session) -> None:
    old_moment = utc_now() - timedelta(days=800)
    session.execute(
        insert(AuditLogEntry).values(
            occurred_at=old_moment, user_id=None, action="sign_in", entity_type="users"
        )
    )
    recent_id = _entry(session)
    set_retention(session, category="audit_log", days=730, actor_user_id=None)

    report = apply_retention(session, dry_run=False)

    assert [result.rows for result in report.results] == [{"audit_log": 1}]
    remaining = session.scalars(select(AuditLogEntry.occurred_at)).all()
    assert min(remaining) > old_moment
    assert session.get(AuditLogEntry, recent_id) is not None
