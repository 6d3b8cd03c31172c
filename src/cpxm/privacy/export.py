"""Everything CPXM holds about one person, machine-readable (GDPR Art. 15 access, Art. 20
portability): the golden record, the source records merged into it, and every row pointing at
them. Secrets that let someone act as the person (survey links, resume tokens) are left out;
safety cases are listed, not copied (they belong to the safety domain, which answers for them).
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.db import Base
from cpxm.privacy.records import ids_in, person_ids, stakeholder_references
from cpxm.timeutil import utc_now

EXPORT_FORMAT = "cpxm-privacy-export/1"
# Columns that would let the reader act as the person, not describe them.
SECRET_COLUMNS = {"invitations": {"token"}, "responses": {"resume_token"}}
# The safety domain keeps these; the person learns that they exist and where they stand.
LISTED_ONLY = {"safety_cases": ("id", "kind", "status", "created_at", "aware_at")}
# Rows that belong to the person through a row of theirs: (parent table, child table, column).
CHILDREN = (
    ("responses", "answers", "response_id"),
    ("feedback_items", "feedback_analyses", "feedback_item_id"),
    ("feedback_items", "feedback_themes", "feedback_item_id"),
    ("cases", "case_events", "case_id"),
)


def export_person(
    session: Session, *, stakeholder_id: int, actor_user_id: int | None
) -> dict[str, Any]:
    """The whole export as a JSON-ready dict; the read is audited."""
    ids = person_ids(session, stakeholder_id=stakeholder_id)
    stakeholders = Base.metadata.tables["stakeholders"]
    people = _rows(session, stakeholders, stakeholders.c.id, ids)
    golden = next(row for row in people if row["id"] == stakeholder_id)
    held: dict[str, list[dict[str, Any]]] = {}
    for table, column in stakeholder_references():
        rows = _rows(session, table, column, ids)
        if rows:
            # A row can point at the person twice (an interaction by an employee, about them).
            seen = {repr(row) for row in held.get(table.name, [])}
            held.setdefault(table.name, []).extend(row for row in rows if repr(row) not in seen)
    for parent, child, column_name in CHILDREN:
        parent_ids = [row["id"] for row in held.get(parent, [])]
        if parent_ids:
            table = Base.metadata.tables[child]
            rows = _rows(session, table, table.c[column_name], parent_ids)
            if rows:
                held[child] = rows
    # A read of everything about the person, audited like every read of personal records.
    audit.record(
        session,
        user_id=actor_user_id,
        action="read",
        entity_type="stakeholders",
        entity_id=stakeholder_id,
        details={"ids": ids, "count": len(ids), "via": "privacy_export", "tables": sorted(held)},
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _plain(utc_now()),
        "stakeholder_id": stakeholder_id,
        "golden_record": golden,
        "merged_records": [row for row in people if row["id"] != stakeholder_id],
        "held": dict(sorted(held.items())),
    }


def _rows(session: Session, table: Table, column: Any, ids: list[int]) -> list[dict[str, Any]]:
    hidden = SECRET_COLUMNS.get(table.name, set())
    shown = LISTED_ONLY.get(table.name)
    columns = [c for c in table.columns if c.name not in hidden and (not shown or c.name in shown)]
    order = list(table.primary_key.columns) or columns[:1]
    statement = select(*columns).where(ids_in(session, column, ids)).order_by(*order)
    return [
        {name: _plain(value) for name, value in row._mapping.items()}
        for row in session.execute(statement)
    ]


def _plain(value: Any) -> Any:
    """A JSON value: times as ISO 8601 (UTC), decimals as numbers, bytes as base64."""
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value
