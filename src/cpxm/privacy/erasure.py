"""Erasing one person everywhere (GDPR Art. 17), except what the law requires CPXM to keep.

What goes: the golden record's and its source records' identity (names, contact details, birth
date, professional and source ids), consents, preferences, interests, affiliations, provenance,
free text they wrote or that was written about them (interaction notes, feedback, comments,
answers in words, case descriptions and comments), data-quality findings about them, the merge
history's snapshots of them, and every survey link and resume token.

What stays: safety cases, whole, with the reporter's identity copied into the case itself
(`safety_cases.reporter_identity`), which only the safety domain reads: reporting adverse events
is a legal obligation (GDPR Art. 17(3)(b) and (c); EU GVP Module VI). Counts and scores stay: the
stakeholder row remains as an anonymous shell ("Erased person"), so interactions, responses and
numeric answers still count in aggregates without saying whose they were. The audit log stays.

Every table that points at a stakeholder must have a rule below; `tests/privacy` fails when a new
one has none, so a new kind of record cannot escape erasure unnoticed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.db import Base
from cpxm.errors import DomainError
from cpxm.privacy.models import Erasure
from cpxm.privacy.records import ids_in, person_ids, stakeholder_references
from cpxm.timeutil import utc_now

ERASED_NAME = "Erased person"
ERASED_TEXT = "[erased]"
IDENTITY_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line",
    "postal_code",
    "city",
    "birth_date",
    "professional_id",
)
# What the safety domain keeps of a reporter it may have to follow up with.
REPORTER_FIELDS = ("display_name", "first_name", "last_name", "email", "phone", "country_code")

Rule = Callable[[Session, Table, Any, list[int]], int]


def _delete_rows(session: Session, table: Table, column: Any, ids: list[int]) -> int:
    return _count(session.execute(delete(table).where(ids_in(session, column, ids))))


def _set(**values: Any) -> Rule:
    """Overwrite these columns of the person's rows (free text, snapshots, tokens)."""

    def rule(session: Session, table: Table, column: Any, ids: list[int]) -> int:
        return _count(
            session.execute(update(table).where(ids_in(session, column, ids)).values(**values))
        )

    return rule


def _keep(_session: Session, _table: Table, _column: Any, _ids: list[int]) -> int:
    return 0


def _new_tokens(session: Session, table: Table, column: Any, ids: list[int]) -> int:
    """Dead survey links: each invitation gets a random token nobody holds."""
    rows = session.execute(select(table.c.id).where(ids_in(session, column, ids))).scalars().all()
    for row_id in rows:
        session.execute(
            update(table).where(table.c.id == row_id).values(token=secrets.token_urlsafe(32))
        )
    return len(rows)


def _source_records(session: Session, table: Table, column: Any, ids: list[int]) -> int:
    rows = session.execute(select(table.c.id).where(ids_in(session, column, ids))).scalars().all()
    for row_id in rows:
        session.execute(
            update(table)
            .where(table.c.id == row_id)
            .values(attributes={}, source_id=f"erased:{row_id}")
        )
    return len(rows)


def _profiling(session: Session, table: Table, column: Any, ids: list[int]) -> int:
    """The person's risk scores go with them (profiling, GDPR Art. 4(4), has no reason to
    outlive the person), and first the outreach actions proposed from those scores, which point
    at them; a case an accepted action opened stays, erased as cases are."""
    actions = Base.metadata.tables["outreach_actions"]
    scores = select(table.c.id).where(ids_in(session, column, ids))
    session.execute(delete(actions).where(actions.c.score_id.in_(scores)))
    return _delete_rows(session, table, column, ids)


# (table, column) -> what erasure does to the rows of that table that point at the person.
RULES: dict[tuple[str, str], Rule] = {
    ("affiliations", "person_id"): _delete_rows,
    ("affiliations", "organisation_id"): _keep,  # an organisation is not a data subject
    ("consents", "stakeholder_id"): _delete_rows,
    ("stakeholder_channel_preferences", "stakeholder_id"): _delete_rows,
    ("stakeholder_therapeutic_interests", "stakeholder_id"): _delete_rows,
    ("identity_attribute_provenance", "stakeholder_id"): _delete_rows,
    ("source_records", "stakeholder_id"): _source_records,
    ("kpi_values", "stakeholder_id"): _keep,  # figures, no identity
    ("interactions", "stakeholder_id"): _set(notes=None),
    ("interactions", "employee_id"): _keep,  # an employee's work record; erased as its own person
    ("identity_merges", "survivor_id"): _set(survivor_before={}),
    ("identity_merges", "merged_id"): _set(survivor_before={}),
    ("invitations", "stakeholder_id"): _new_tokens,
    ("responses", "stakeholder_id"): _set(resume_token=None),
    ("feedback_items", "stakeholder_id"): _set(text=ERASED_TEXT),
    ("cases", "stakeholder_id"): _set(description=None),
    ("safety_cases", "reporter_stakeholder_id"): _keep,  # legal obligation; see the docstring
    ("prediction_scores", "stakeholder_id"): _profiling,
    ("outreach_actions", "stakeholder_id"): _delete_rows,
    ("privacy_erasures", "stakeholder_id"): _keep,
    # An objection outlives an erasure: the shell left behind stays out of lists and surveys.
    ("privacy_objections", "stakeholder_id"): _keep,
}


def erase_person(
    session: Session, *, stakeholder_id: int, reason: str, actor_user_id: int | None
) -> Erasure:
    """Erase the person whose golden record is ``stakeholder_id``; flushes, never commits."""
    if not reason.strip():
        raise DomainError("say why this person is erased (--reason), for the audit trail")
    missing = [
        f"{table.name}.{column.name}"
        for table, column in stakeholder_references()
        if (table.name, column.name) not in RULES
    ]
    if missing:
        raise DomainError(f"no erasure rule for {', '.join(missing)}; refusing to erase partly")
    ids = person_ids(session, stakeholder_id=stakeholder_id)
    summary: dict[str, int] = {}
    _keep_reporter_identity(session, ids)
    for table, column in stakeholder_references():
        changed = RULES[(table.name, column.name)](session, table, column, ids)
        if changed:
            summary[table.name] = summary.get(table.name, 0) + changed
    summary.update(_erase_children(session, ids))
    stakeholders = Base.metadata.tables["stakeholders"]
    session.execute(
        update(stakeholders)
        .where(ids_in(session, stakeholders.c.id, ids))
        .values(display_name=ERASED_NAME, updated_at=utc_now(), **dict.fromkeys(IDENTITY_COLUMNS))
    )
    summary["stakeholders"] = len(ids)
    erasure = Erasure(
        stakeholder_id=stakeholder_id,
        erased_at=utc_now(),
        erased_by_user_id=actor_user_id,
        reason=reason.strip(),
        summary=summary,
    )
    session.add(erasure)
    audit.record(
        session,
        user_id=actor_user_id,
        action="privacy_erase",
        entity_type="stakeholders",
        entity_id=stakeholder_id,
        reason=reason.strip(),
        details={"records": ids, "summary": summary},
    )
    session.flush()
    return erasure


def _erase_children(session: Session, ids: list[int]) -> dict[str, int]:
    """Free text in rows that belong to the person through a row of theirs."""
    tables = Base.metadata.tables
    summary: dict[str, int] = {}
    responses, answers = tables["responses"], tables["answers"]
    response_ids = select(responses.c.id).where(ids_in(session, responses.c.stakeholder_id, ids))
    summary["answers"] = _count(
        session.execute(
            update(answers)
            .where(answers.c.response_id.in_(response_ids), answers.c.value_text.is_not(None))
            .values(value_text=None)
        )
    )
    items, analyses = tables["feedback_items"], tables["feedback_analyses"]
    item_ids = select(items.c.id).where(ids_in(session, items.c.stakeholder_id, ids))
    summary["feedback_analyses"] = _count(
        session.execute(
            update(analyses)
            .where(analyses.c.feedback_item_id.in_(item_ids))
            .values(redacted_text=None, safety_contexts=None, safety_mentions=None)
        )
    )
    cases, events = tables["cases"], tables["case_events"]
    case_ids = select(cases.c.id).where(ids_in(session, cases.c.stakeholder_id, ids))
    summary["case_events"] = _count(
        session.execute(
            update(events)
            .where(events.c.case_id.in_(case_ids), events.c.event_type == "comment")
            .values(details={"text": ERASED_TEXT})
        )
    )
    issues, runs = tables["data_quality_issues"], tables["import_runs"]
    stakeholder_runs = select(runs.c.id).where(runs.c.target == "stakeholders")
    summary["data_quality_issues"] = _count(
        session.execute(
            delete(issues).where(
                ids_in(session, issues.c.entity_id, ids),
                issues.c.import_run_id.in_(stakeholder_runs),
            )
        )
    )
    return {table: count for table, count in summary.items() if count}


def _keep_reporter_identity(session: Session, ids: list[int]) -> None:
    """Copy who reported each safety case into the case, before the record forgets it."""
    tables = Base.metadata.tables
    stakeholders, cases = tables["stakeholders"], tables["safety_cases"]
    people = {
        row.id: {field: row._mapping[field] for field in REPORTER_FIELDS}
        for row in session.execute(
            select(stakeholders).where(ids_in(session, stakeholders.c.id, ids))
        )
    }
    rows = session.execute(
        select(cases.c.id, cases.c.reporter_stakeholder_id).where(
            ids_in(session, cases.c.reporter_stakeholder_id, ids),
            cases.c.reporter_identity.is_(None),
        )
    ).all()
    for case_id, reporter_id in rows:
        session.execute(
            update(cases)
            .where(cases.c.id == case_id)
            .values(reporter_identity=people.get(reporter_id))
        )


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
