"""Write a batch of converted rows to its target tables with a handful of statements.

Entities are fetched and inserted per batch (the ORM sends one multi-row INSERT per table at
flush), never per row: the difference between hundreds and tens of thousands of rows a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cpxm.db import Base, one_of
from cpxm.feedback.models import FeedbackItem
from cpxm.identity.models import SourceRecord
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.rows import ConvertedRow, Reference, RowError
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import ORGANISATION_TYPES, Consent, Stakeholder, TherapeuticInterest

References = dict[tuple[str, str], SourceRecord]

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
class PendingRow:
    """A row to write; ``entity_id`` is the record it updates (from the ledger), if any."""

    row: ConvertedRow
    entity_id: int | None


def check_references(row: ConvertedRow, references: References) -> None:
    """Raise RowError when a referenced stakeholder is unknown, before anything is written."""
    for value in row.values.values():
        if isinstance(value, Reference):
            _stakeholder_id(value, references)


def _stakeholder_id(reference: Reference, references: References) -> int:
    record = references.get((reference.source_system, reference.source_id))
    if record is None or record.stakeholder_id is None:
        raise RowError(
            f"column '{reference.column}' is '{reference.source_id}', but no stakeholder has that "
            f"id in source system '{reference.source_system}'; import that system's stakeholders "
            "first, or correct the id"
        )
    return record.stakeholder_id


def resolve_references(session: Session, rows: list[ConvertedRow]) -> References:
    keys = {
        (value.source_system, value.source_id)
        for row in rows
        for value in row.values.values()
        if isinstance(value, Reference)
    }
    if not keys:
        return {}
    found = session.scalars(
        select(SourceRecord).where(
            one_of(session, SourceRecord.source_system, {system for system, _ in keys}),
            one_of(session, SourceRecord.source_id, {source_id for _, source_id in keys}),
        )
    )
    return {
        (record.source_system, record.source_id): record
        for record in found
        if (record.source_system, record.source_id) in keys
    }


def write_rows(
    session: Session, *, mapping: ImportMapping, pending: list[PendingRow], references: References
) -> dict[str, int]:
    """Create or update the target record of each pending row; returns source id -> record id."""
    if not pending:
        return {}
    if mapping.target == "stakeholders":
        return _write_stakeholders(session, mapping, pending)
    model, fill = _SIMPLE_TARGETS[mapping.target]
    existing = _by_id(session, model, [p.entity_id for p in pending if p.entity_id is not None])
    entities: dict[str, Any] = {}
    for item in pending:
        entity = existing[item.entity_id] if item.entity_id is not None else model()
        fill(entity, item.row.values, references, mapping)
        entities[item.row.source_id] = entity
    assign_ids(session, model, [e for e in entities.values() if e.id is None])
    session.add_all(entities.values())
    session.flush()
    return {source_id: entity.id for source_id, entity in entities.items()}


def assign_ids(session: Session, model: type[Any], entities: list[Any]) -> None:
    """On PostgreSQL, take ids from the table's sequence before inserting.

    With ids known, the ORM inserts with one prepared statement sent as a pipelined
    executemany, instead of multi-row INSERT ... RETURNING statements that psycopg must
    parse afresh each time (measured: about 5x faster on 10,000 rows).
    """
    if not entities or session.get_bind().dialect.name != "postgresql":
        return
    table = model.__table__.name
    ids = session.scalars(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table, "n": len(entities)},
    ).all()
    for entity, new_id in zip(entities, ids, strict=True):
        entity.id = new_id


def _by_id(session: Session, model: type[Any], ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {
        entity.id: entity
        for entity in session.scalars(select(model).where(one_of(session, model.id, ids)))
    }


def _fill_interaction(
    interaction: Interaction, values: dict[str, Any], references: References, _: ImportMapping
) -> None:
    reference: Reference = values["stakeholder"]
    interaction.stakeholder_id = _stakeholder_id(reference, references)
    interaction.source_record_id = references[(reference.source_system, reference.source_id)].id
    interaction.occurred_at = values["occurred_at"]
    interaction.channel_code = values["channel"]
    interaction.department_code = values["department"]
    interaction.interaction_type = values["interaction_type"]
    interaction.direction = values["direction"]
    interaction.product_code = values.get("product")
    interaction.therapeutic_area_code = values.get("therapeutic_area")
    interaction.lifecycle_phase_code = values.get("lifecycle_phase")
    interaction.outcome = values.get("outcome")
    interaction.notes = values.get("notes")


def _fill_consent(
    consent: Consent, values: dict[str, Any], references: References, mapping: ImportMapping
) -> None:
    consent.stakeholder_id = _stakeholder_id(values["stakeholder"], references)
    consent.purpose = values["purpose"]
    consent.status = values["status"]
    consent.channel_code = values.get("channel")
    consent.recorded_at = values["recorded_at"]
    consent.source = mapping.source_system


def _fill_feedback(
    item: FeedbackItem, values: dict[str, Any], references: References, _: ImportMapping
) -> None:
    reference = values.get("stakeholder")
    item.stakeholder_id = _stakeholder_id(reference, references) if reference else None
    item.text = values["text"]
    item.received_at = values["received_at"]
    item.source_kind = values["source_kind"]
    item.channel_code = values.get("channel")
    item.language = values.get("language")
    item.analysis_status = "pending"


_SIMPLE_TARGETS: dict[str, tuple[type[Base], Any]] = {
    "interactions": (Interaction, _fill_interaction),
    "consents": (Consent, _fill_consent),
    "feedback": (FeedbackItem, _fill_feedback),
}


def _write_stakeholders(
    session: Session, mapping: ImportMapping, pending: list[PendingRow]
) -> dict[str, int]:
    """Keep each source record as it came, and give it a provisional golden record.

    A new source record gets a stakeholder of its own at once, so interactions and consent can
    point at someone before identity resolution merges duplicates.
    """
    records = _by_id(session, SourceRecord, [p.entity_id for p in pending if p.entity_id])
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
    chosen: dict[str, SourceRecord] = {}
    for item in pending:
        record = (
            records[item.entity_id]
            if item.entity_id is not None
            else by_source_id.get(item.row.source_id)
            or SourceRecord(source_system=mapping.source_system, source_id=item.row.source_id)
        )
        record.attributes = {key: jsonable(value) for key, value in item.row.values.items()}
        record.imported_at = now
        chosen[item.row.source_id] = record
    golden = _by_id(
        session, Stakeholder, [r.stakeholder_id for r in chosen.values() if r.stakeholder_id]
    )
    new_golden: dict[str, Stakeholder] = {}
    for item in pending:
        record = chosen[item.row.source_id]
        stakeholder = golden.get(record.stakeholder_id) if record.stakeholder_id else None
        if stakeholder is None:
            stakeholder = new_golden.setdefault(item.row.source_id, Stakeholder())
        _fill_golden(stakeholder, item.row.values)
    assign_ids(session, Stakeholder, list(new_golden.values()))
    session.add_all(new_golden.values())
    session.flush()
    for source_id, stakeholder in new_golden.items():
        chosen[source_id].stakeholder_id = stakeholder.id
    assign_ids(session, SourceRecord, [r for r in chosen.values() if r.id is None])
    session.add_all(chosen.values())
    session.flush()
    _add_interests(session, pending, chosen)
    return {source_id: record.id for source_id, record in chosen.items()}


def _fill_golden(stakeholder: Stakeholder, values: dict[str, Any]) -> None:
    stakeholder.type = values["type"]
    stakeholder.kind = "organisation" if values["type"] in ORGANISATION_TYPES else "person"
    for name in _GOLDEN_FIELDS:
        if values.get(name) is not None:
            setattr(stakeholder, name, values[name])
    if values.get("country"):
        stakeholder.country_code = values["country"]
    full_name = " ".join(
        part for part in (values.get("first_name"), values.get("last_name")) if part
    )
    stakeholder.display_name = values.get("name") or full_name or stakeholder.display_name or "?"


def _add_interests(
    session: Session, pending: list[PendingRow], chosen: dict[str, SourceRecord]
) -> None:
    wanted = {
        (chosen[item.row.source_id].stakeholder_id, code)
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
