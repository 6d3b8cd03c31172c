"""Write a batch of converted rows to its target tables with a handful of statements.

Entities are fetched and inserted per batch (the ORM sends one multi-row INSERT per table at
flush), never per row: the difference between hundreds and tens of thousands of rows a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from cpxm.db import Base, assign_ids, bulk_insert, one_of, reserve_ids, server_timestamps
from cpxm.feedback import writer as feedback_writer
from cpxm.feedback.models import FeedbackItem
from cpxm.identity.models import SourceRecord
from cpxm.ingest.entities import PendingRow, by_id
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.references import (
    ReferenceCache,
    References,
    resolve_references,
    stakeholder_of,
)
from cpxm.ingest.responses import SurveyQuestions, load_surveys, typed_answers, write_responses
from cpxm.ingest.rows import ConvertedRow, QualityIssue, Reference, RowError
from cpxm.ingest.targets import TARGETS, FieldKind
from cpxm.interactions.models import Interaction
from cpxm.outcomes.models import KpiValue
from cpxm.stakeholders.models import (
    ORGANISATION_TYPES,
    Affiliation,
    Consent,
    Stakeholder,
    TherapeuticInterest,
)

_GOLDEN_FIELDS = (
    "first_name",
    "last_name",
    "specialty",
    "professional_id",
    "email",
    "phone",
    "address_line",
    "postal_code",
    "city",
    "language",
    "birth_date",
)


@dataclass
class BatchContext:
    """What a batch's rows refer to, loaded once per batch."""

    references: References
    surveys: dict[str, SurveyQuestions] = field(default_factory=dict)


def prepare_batch(
    session: Session,
    mapping: ImportMapping,
    rows: list[ConvertedRow],
    references: ReferenceCache | None = None,
) -> BatchContext:
    fields = _reference_fields(mapping.target)
    context = BatchContext(references=resolve_references(session, rows, references, fields))
    if mapping.target == "responses":
        context.surveys = load_surveys(session, rows)
    return context


@cache
def _reference_fields(target: str) -> tuple[str, ...]:
    """The fields of ``target`` that name a stakeholder (answers never do)."""
    return tuple(
        name
        for name, definition in TARGETS[target].fields.items()
        if definition.kind is FieldKind.REFERENCE
    )


def blanks_when_invalid(mapping: ImportMapping, name: str) -> bool:
    """Whether the mapping blanks (and logs) an unreadable value of field ``name`` rather than
    quarantining its row: its ``on_invalid``, else the field's default."""
    definition = TARGETS[mapping.target].fields[name]
    spec = mapping.fields.get(name)
    on_invalid = spec.on_invalid if spec is not None else None
    chosen = on_invalid == "blank" if on_invalid is not None else definition.blank_when_invalid
    return chosen and not definition.required


def blank_unknown_references(
    mapping: ImportMapping, row: ConvertedRow, context: BatchContext
) -> ConvertedRow:
    """``row`` without the optional references that name nobody (or the wrong kind of
    stakeholder) where the field blanks them (an interaction's employee), each logged as a
    data-quality issue; the row itself as it was when there is none."""
    fields = TARGETS[mapping.target].fields
    blanked: list[str] = []
    issues: list[QualityIssue] = []
    for name, value in row.values.items():
        if not isinstance(value, Reference) or not blanks_when_invalid(mapping, name):
            continue
        definition = fields[name]
        try:
            stakeholder_of(
                value,
                context.references,
                kind=definition.stakeholder_kind,
                type_=definition.stakeholder_type,
            )
        except RowError as failure:
            blanked.append(name)
            issues.append(QualityIssue(name, value.column, value.source_id, str(failure)))
    if not blanked:
        return row
    values = {name: value for name, value in row.values.items() if name not in blanked}
    return ConvertedRow(row.source_id, values, (*row.issues, *issues))


def check_row(
    mapping: ImportMapping, row: ConvertedRow, context: BatchContext
) -> dict[str, Any] | None:
    """Raise RowError when the row cannot be written as it is, before anything is written.

    For the simple targets it returns the record's column values, worked out once here, since
    resolving them is what checks the row.
    """
    values = row.values
    simple = _SIMPLE_TARGETS.get(mapping.target)
    if simple is not None:
        columns = simple[1](values, context.references, mapping)
        if mapping.target == "kpis" and values["period_end"] < values["period_start"]:
            raise RowError(
                f"the period ends ({values['period_end']}) before it starts "
                f"({values['period_start']})"
            )
        return columns
    fields = TARGETS[mapping.target].fields
    for name, value in values.items():
        if isinstance(value, Reference):
            definition = fields[name]
            stakeholder_of(
                value,
                context.references,
                kind=definition.stakeholder_kind,
                type_=definition.stakeholder_type,
            )
    if mapping.target == "affiliations":
        ended, started = values.get("ended_on"), values.get("started_on")
        if ended and started and ended < started:
            raise RowError(f"the affiliation ends ({ended}) before it starts ({started})")
    if mapping.target == "responses":
        typed_answers(mapping, row, context.surveys)
    return None


def write_rows(
    session: Session, *, mapping: ImportMapping, pending: list[PendingRow], context: BatchContext
) -> dict[str, int]:
    """Create or update the target record of each pending row; returns source id -> record id."""
    if not pending:
        return {}
    references = context.references
    if mapping.target == "stakeholders":
        return _write_stakeholders(session, mapping, pending)
    if mapping.target == "affiliations":
        return _write_affiliations(session, pending, references)
    if mapping.target == "feedback":
        return _write_feedback(session, mapping, pending, references)
    if mapping.target == "responses":
        return write_responses(
            session,
            mapping=mapping,
            pending=pending,
            references=references,
            surveys=context.surveys,
        )
    model, columns_of = _SIMPLE_TARGETS[mapping.target]
    existing = by_id(session, model, [p.entity_id for p in pending if p.entity_id is not None])
    written: dict[str, Any] = {}
    created: list[tuple[str, dict[str, Any]]] = []
    for item in pending:
        columns = item.columns
        if columns is None:
            columns = columns_of(item.row.values, references, mapping)
        # A record deleted since its import (by a person, or a merge) is created afresh.
        entity = existing.get(item.entity_id) if item.entity_id is not None else None
        if entity is None:
            created.append((item.row.source_id, columns))
            continue
        for key, value in columns.items():
            setattr(entity, key, value)
        written[item.row.source_id] = entity.id
    session.flush()
    if created:
        # New rows skip the ORM: plain tuples in the table's column order, one bulk insert.
        table = cast(Table, model.__table__)
        template = dict.fromkeys(column.key for column in table.columns)
        template.update(server_timestamps(table))
        ids = reserve_ids(session, table, len(created))
        rows = []
        for (source_id, columns), new_id in zip(created, ids, strict=True):
            record = {**template, **columns}
            record["id"] = new_id
            rows.append(tuple(record.values()))
            written[source_id] = new_id
        bulk_insert(session.connection(), table, rows, [column.name for column in table.columns])
    return written


def _interaction_columns(
    values: dict[str, Any], references: References, _: ImportMapping
) -> dict[str, Any]:
    stakeholder = stakeholder_of(values["stakeholder"], references)
    get = values.get
    employee = get("employee")
    return {
        "employee_id": (
            stakeholder_of(employee, references, kind="person", type_="employee").stakeholder_id
            if employee is not None
            else None
        ),
        "stakeholder_id": stakeholder.stakeholder_id,
        "source_record_id": stakeholder.source_record_id,
        "occurred_at": values["occurred_at"],
        "channel_code": values["channel"],
        "department_code": values["department"],
        "interaction_type": values["interaction_type"],
        "direction": values["direction"],
        "product_code": get("product"),
        "therapeutic_area_code": get("therapeutic_area"),
        "lifecycle_phase_code": get("lifecycle_phase"),
        "outcome": get("outcome"),
        "notes": get("notes"),
    }


def _consent_columns(
    values: dict[str, Any], references: References, mapping: ImportMapping
) -> dict[str, Any]:
    return {
        "stakeholder_id": stakeholder_of(values["stakeholder"], references).stakeholder_id,
        "purpose": values["purpose"],
        "status": values["status"],
        "channel_code": values.get("channel"),
        "recorded_at": values["recorded_at"],
        "source": mapping.source_system,
    }


def _feedback_columns(
    values: dict[str, Any], references: References, _: ImportMapping
) -> dict[str, Any]:
    reference = values.get("stakeholder")
    return {
        "stakeholder_id": (
            stakeholder_of(reference, references).stakeholder_id if reference else None
        ),
        "text": values["text"],
        "received_at": values["received_at"],
        "source_kind": values["source_kind"],
        "channel_code": values.get("channel"),
        "language": values.get("language"),
    }


def _kpi_columns(
    values: dict[str, Any], references: References, mapping: ImportMapping
) -> dict[str, Any]:
    reference = values.get("stakeholder")
    return {
        "kpi": values["kpi"],
        "stakeholder_id": (
            stakeholder_of(reference, references).stakeholder_id if reference else None
        ),
        "product_code": values.get("product"),
        "country_code": values.get("country"),
        "period_start": values["period_start"],
        "period_end": values["period_end"],
        "value": values["value"],
        "unit": values.get("unit"),
        "source_system": mapping.source_system,
    }


ColumnsOf = Callable[[dict[str, Any], References, ImportMapping], dict[str, Any]]
# Targets whose rows are one record each, with no relations to reconcile: their column values
# come straight from the row.
_SIMPLE_TARGETS: dict[str, tuple[type[Base], ColumnsOf]] = {
    "interactions": (Interaction, _interaction_columns),
    "consents": (Consent, _consent_columns),
    "kpis": (KpiValue, _kpi_columns),
}


def _write_feedback(
    session: Session, mapping: ImportMapping, pending: list[PendingRow], references: References
) -> dict[str, int]:
    """Feedback goes through its one writer, which queues every new or re-worded item for
    analysis and safety screening once the import's batch commits."""
    existing = by_id(session, FeedbackItem, [p.entity_id for p in pending if p.entity_id])
    written: dict[str, int] = {}
    created: list[tuple[str, dict[str, Any]]] = []
    for item in pending:
        columns = item.columns
        if columns is None:
            columns = _feedback_columns(item.row.values, references, mapping)
        entity = existing.get(item.entity_id) if item.entity_id is not None else None
        if entity is None:  # new, or deleted since its import (by a person, or an erasure)
            created.append((item.row.source_id, columns))
            continue
        feedback_writer.update_item(session, entity, columns)
        written[item.row.source_id] = entity.id
    session.flush()
    new_ids = feedback_writer.insert_rows(session, [columns for _, columns in created])
    written.update(zip((source_id for source_id, _ in created), new_ids, strict=True))
    return written


def _write_affiliations(
    session: Session, pending: list[PendingRow], references: References
) -> dict[str, int]:
    """One affiliation per (person, organisation, role), the table's unique key.

    Two source rows saying the same link (two systems, or a re-keyed export) share one record
    instead of failing the batch on the unique constraint.
    """
    ledgered = by_id(session, Affiliation, [p.entity_id for p in pending if p.entity_id])
    links = {
        item.row.source_id: (
            stakeholder_of(item.row.values["person"], references).stakeholder_id,
            stakeholder_of(item.row.values["organisation"], references).stakeholder_id,
            item.row.values["role"],
        )
        for item in pending
    }
    holders: dict[tuple[int, int, str], Affiliation] = {
        (a.person_id, a.organisation_id, a.role): a
        for a in session.scalars(
            select(Affiliation).where(
                one_of(session, Affiliation.person_id, sorted({p for p, _, _ in links.values()}))
            )
        )
    }
    chosen: dict[str, Affiliation] = {}
    for item in pending:
        link = links[item.row.source_id]
        own = ledgered.get(item.entity_id) if item.entity_id else None
        affiliation = holders.get(link) or own or Affiliation()
        if own is affiliation:
            holders.pop((own.person_id, own.organisation_id, own.role), None)
        affiliation.person_id, affiliation.organisation_id, affiliation.role = link
        affiliation.started_on = item.row.values.get("started_on")
        affiliation.ended_on = item.row.values.get("ended_on")
        holders[link] = affiliation
        chosen[item.row.source_id] = affiliation
    new = list({id(a): a for a in chosen.values() if a.id is None}.values())
    assign_ids(session, Affiliation, new)
    session.add_all(new)
    session.flush()
    return {source_id: affiliation.id for source_id, affiliation in chosen.items()}


def _write_stakeholders(
    session: Session, mapping: ImportMapping, pending: list[PendingRow]
) -> dict[str, int]:
    """Keep each source record as it came, and give it a provisional golden record.

    A new source record gets a stakeholder of its own at once, so interactions and consent can
    point at someone before identity resolution merges duplicates.
    """
    records = by_id(session, SourceRecord, [p.entity_id for p in pending if p.entity_id])
    unledgered = [p.row.source_id for p in pending if p.entity_id is None]
    by_source_id: dict[str, SourceRecord] = {}
    if unledgered:
        # A record may exist without a ledger entry (written by another path): adopt it.
        by_source_id = {
            record.source_id: record
            for record in session.scalars(
                select(SourceRecord).where(
                    SourceRecord.source_system == mapping.source_system,
                    one_of(session, SourceRecord.source_id, unledgered),
                )
            )
        }
    now = datetime.now(UTC).replace(tzinfo=None)
    known: list[tuple[PendingRow, SourceRecord]] = []
    new: list[PendingRow] = []
    for item in pending:
        if item.entity_id is not None:
            known.append((item, records[item.entity_id]))
        elif (adopted := by_source_id.get(item.row.source_id)) is not None:
            known.append((item, adopted))
        else:
            new.append(item)
    stakeholder_of_source = _update_stakeholders(session, known, now)
    written = {item.row.source_id: record.id for item, record in known}
    if new:
        written.update(_insert_stakeholders(session, mapping, new, now, stakeholder_of_source))
    _add_interests(session, pending, stakeholder_of_source)
    return written


def _update_stakeholders(
    session: Session, known: list[tuple[PendingRow, SourceRecord]], now: datetime
) -> dict[str, int | None]:
    """Refresh source records that exist, and their golden records (through the ORM)."""
    golden = by_id(session, Stakeholder, [r.stakeholder_id for _, r in known if r.stakeholder_id])
    new_golden: dict[str, Stakeholder] = {}
    for item, record in known:
        record.attributes = {key: jsonable(value) for key, value in item.row.values.items()}
        record.imported_at = now
        stakeholder = golden.get(record.stakeholder_id) if record.stakeholder_id else None
        if stakeholder is None:
            stakeholder = new_golden.setdefault(item.row.source_id, Stakeholder())
        for key, value in _golden_values(item.row.values, stakeholder.display_name).items():
            setattr(stakeholder, key, value)
    assign_ids(session, Stakeholder, list(new_golden.values()))
    session.add_all(new_golden.values())
    session.flush()
    for item, record in known:
        if item.row.source_id in new_golden:
            record.stakeholder_id = new_golden[item.row.source_id].id
    session.flush()
    return {item.row.source_id: record.stakeholder_id for item, record in known}


def _insert_stakeholders(
    session: Session,
    mapping: ImportMapping,
    new: list[PendingRow],
    now: datetime,
    stakeholder_of_source: dict[str, int | None],
) -> dict[str, int]:
    """New source records, each with a golden record of its own, as two bulk inserts.

    Building ORM objects for them cost most of an import of 10,000 people (FEBRL4).
    """
    people = cast(Table, Stakeholder.__table__)
    sources = cast(Table, SourceRecord.__table__)
    person_template = dict.fromkeys(column.key for column in people.columns)
    person_template.update(status="active", created_at=now, updated_at=now)
    person_ids = reserve_ids(session, people, len(new))
    record_ids = reserve_ids(session, sources, len(new))
    person_rows, record_rows, written = [], [], {}
    for item, person_id, record_id in zip(new, person_ids, record_ids, strict=True):
        values = item.row.values
        person = {**person_template, **_golden_values(values, None)}
        person["id"] = person_id
        person_rows.append(tuple(person.values()))
        attributes = {key: jsonable(value) for key, value in values.items()}
        record = (record_id, mapping.source_system, item.row.source_id, person_id, attributes, now)
        record_rows.append(record)
        stakeholder_of_source[item.row.source_id] = person_id
        written[item.row.source_id] = record_id
    connection = session.connection()
    bulk_insert(connection, people, person_rows, [column.name for column in people.columns])
    bulk_insert(
        connection,
        sources,
        record_rows,
        ["id", "source_system", "source_id", "stakeholder_id", "attributes", "imported_at"],
    )
    return written


def _golden_values(values: dict[str, Any], display_name: str | None) -> dict[str, Any]:
    """A golden record's columns from one source row (``display_name``: the one it has)."""
    golden: dict[str, Any] = {
        "type": values["type"],
        "kind": "organisation" if values["type"] in ORGANISATION_TYPES else "person",
    }
    for name in _GOLDEN_FIELDS:
        if values.get(name) is not None:
            golden[name] = values[name]
    if values.get("country"):
        golden["country_code"] = values["country"]
    full_name = " ".join(
        part for part in (values.get("first_name"), values.get("last_name")) if part
    )
    golden["display_name"] = values.get("name") or full_name or display_name or "?"
    return golden


def _add_interests(
    session: Session, pending: list[PendingRow], stakeholder_of_source: dict[str, int | None]
) -> None:
    wanted = {
        (stakeholder_of_source.get(item.row.source_id), code)
        for item in pending
        for code in item.row.values.get("therapeutic_interests") or []
    }
    if not wanted:
        return
    stakeholder_ids = sorted({stakeholder_id for stakeholder_id, _ in wanted if stakeholder_id})
    have = {
        (stakeholder_id, code)
        for stakeholder_id, code in session.execute(
            select(
                TherapeuticInterest.stakeholder_id, TherapeuticInterest.therapeutic_area_code
            ).where(one_of(session, TherapeuticInterest.stakeholder_id, stakeholder_ids))
        )
    }
    session.add_all(
        TherapeuticInterest(stakeholder_id=stakeholder_id, therapeutic_area_code=code)
        for stakeholder_id, code in sorted(wanted - have, key=str)
        if stakeholder_id is not None
    )
    session.flush()


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Reference):
        return {"source_system": value.source_system, "source_id": value.source_id}
    return value
