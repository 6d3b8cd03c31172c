"""Run imports: every row ends stored or quarantined, and running an import again is harmless.

Rows are applied in batches, each in its own transaction together with its ledger entries,
quarantined rows and the run's counters. A process killed mid-import loses at most the batch in
flight, which was never committed; running the import again finds the committed rows unchanged in
the ledger and completes the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, tuple_
from sqlalchemy.orm import Session

from cpxm.db import chunked, session_factory
from cpxm.feedback.models import FeedbackItem
from cpxm.identity.models import SourceRecord
from cpxm.ingest.mapping import ImportMapping, parse_mapping
from cpxm.ingest.models import ImportLedgerEntry, ImportRun, QuarantinedRow
from cpxm.ingest.readers import RawRecord, read_rows
from cpxm.ingest.rows import ConvertedRow, Lookups, Reference, RowError, convert_row
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import ORGANISATION_TYPES, Consent, Stakeholder, TherapeuticInterest
from cpxm.workspace.models import (
    Channel,
    Country,
    Department,
    LifecyclePhase,
    Product,
    TherapeuticArea,
)

BATCH_SIZE = 2_000
ProgressCallback = Callable[[int], None]  # rows read so far


@dataclass
class ImportReport:
    run_id: int | None
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    dry_run: bool = False

    @property
    def stored(self) -> int:
        return self.created + self.updated + self.unchanged


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def load_lookups(session: Session) -> Lookups:
    tables = {
        "countries": Country.code,
        "channels": Channel.code,
        "departments": Department.code,
        "products": Product.code,
        "therapeutic_areas": TherapeuticArea.code,
        "lifecycle_phases": LifecyclePhase.code,
    }
    return Lookups(
        codes={name: set(session.scalars(select(column))) for name, column in tables.items()}
    )


def import_file(
    engine: Engine,
    *,
    path: Path,
    mapping: ImportMapping,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import ``path`` through ``mapping``, committing batch by batch (nothing, if ``dry_run``)."""
    records = read_rows(path, mapping.file)
    return import_records(
        engine,
        records=records,
        mapping=mapping,
        file_name=path.name,
        file_sha256=_file_sha256(path),
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress,
    )


def import_records(
    engine: Engine,
    *,
    records: Iterable[RawRecord],
    mapping: ImportMapping,
    file_name: str | None = None,
    file_sha256: str | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import already-read rows (a file, or a batch pushed to the API)."""
    make_session = session_factory(engine)
    report = ImportReport(run_id=None, dry_run=dry_run)
    with make_session() as session:
        lookups = load_lookups(session)
        run = ImportRun(**_run_columns(mapping, file_name, file_sha256))
        session.add(run)
        session.flush()
        report.run_id = run.id
        if dry_run:
            session.rollback()
        else:
            session.commit()
    for batch in chunked(records, batch_size):
        with make_session() as session:
            run_id = report.run_id
            if dry_run:
                # The run row was rolled back; a throwaway one keeps the batch's references valid.
                scratch = ImportRun(**_run_columns(mapping, file_name, file_sha256))
                session.add(scratch)
                session.flush()
                run_id = scratch.id
            outcome = apply_batch(
                session, mapping=mapping, records=batch, lookups=lookups, run_id=run_id
            )
            _add(report, outcome)
            if dry_run:
                session.rollback()
            else:
                _record_counts(session, report)
                session.commit()
        if progress:
            progress(report.read)
    if not dry_run:
        with make_session() as session:
            _record_counts(session, report, finished=True)
            session.commit()
    return report


def _run_columns(
    mapping: ImportMapping, file_name: str | None, file_sha256: str | None
) -> dict[str, Any]:
    return {
        "source_system": mapping.source_system,
        "target": mapping.target,
        "mapping_name": mapping.name,
        "mapping": mapping.model_dump(mode="json", exclude_none=True),
        "file_name": file_name,
        "file_sha256": file_sha256,
        "status": "running",
        "started_at": _utcnow(),
    }


def _add(report: ImportReport, outcome: ImportReport) -> None:
    report.read += outcome.read
    report.created += outcome.created
    report.updated += outcome.updated
    report.unchanged += outcome.unchanged
    report.quarantined += outcome.quarantined


def _record_counts(session: Session, report: ImportReport, *, finished: bool = False) -> None:
    run = session.get_one(ImportRun, report.run_id)
    run.rows_read = report.read
    run.rows_created = report.created
    run.rows_updated = report.updated
    run.rows_unchanged = report.unchanged
    run.rows_quarantined = report.quarantined
    if finished:
        run.status = "completed"
        run.finished_at = _utcnow()
    session.flush()


def apply_batch(
    session: Session,
    *,
    mapping: ImportMapping,
    records: list[RawRecord],
    lookups: Lookups,
    run_id: int,
) -> ImportReport:
    """Store or quarantine each row of one batch; flushes, never commits."""
    outcome = ImportReport(run_id=run_id, read=len(records))
    converted: list[tuple[RawRecord, ConvertedRow]] = []
    for record in records:
        try:
            if record.problem:
                raise RowError(record.problem)
            converted.append((record, convert_row(mapping, record.values, lookups)))
        except RowError as error:
            _quarantine(session, run_id, record, str(error))
            outcome.quarantined += 1
    ledger = _ledger_entries(session, mapping, [row.source_id for _, row in converted])
    references = _resolve_references(session, [row for _, row in converted])
    for record, row in converted:
        digest = _content_sha256(row.values)
        entry = ledger.get(row.source_id)
        if entry is not None and entry.content_sha256 == digest:
            outcome.unchanged += 1
            continue
        try:
            with session.begin_nested():
                entity_id = _apply_row(session, mapping, row, references, entry)
                if entry is None:
                    entry = ImportLedgerEntry(
                        target=mapping.target,
                        source_system=mapping.source_system,
                        source_id=row.source_id,
                        entity_id=entity_id,
                        content_sha256=digest,
                        import_run_id=run_id,
                    )
                    session.add(entry)
                    ledger[row.source_id] = entry
                    outcome.created += 1
                else:
                    entry.content_sha256 = digest
                    entry.import_run_id = run_id
                    outcome.updated += 1
                session.flush()
        except RowError as error:
            _quarantine(session, run_id, record, str(error))
            outcome.quarantined += 1
    session.flush()
    return outcome


def _quarantine(session: Session, run_id: int, record: RawRecord, reason: str) -> None:
    session.add(
        QuarantinedRow(
            import_run_id=run_id,
            row_number=record.row_number,
            raw=dict(record.values),
            reason=f"row {record.row_number}: {reason}",
            status="open",
            created_at=_utcnow(),
        )
    )


def _ledger_entries(
    session: Session, mapping: ImportMapping, source_ids: list[str]
) -> dict[str, ImportLedgerEntry]:
    if not source_ids:
        return {}
    entries = session.scalars(
        select(ImportLedgerEntry).where(
            ImportLedgerEntry.target == mapping.target,
            ImportLedgerEntry.source_system == mapping.source_system,
            ImportLedgerEntry.source_id.in_(set(source_ids)),
        )
    )
    return {entry.source_id: entry for entry in entries}


def _resolve_references(
    session: Session, rows: list[ConvertedRow]
) -> dict[tuple[str, str], SourceRecord]:
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
            tuple_(SourceRecord.source_system, SourceRecord.source_id).in_(list(keys))
        )
    )
    return {(record.source_system, record.source_id): record for record in found}


def _stakeholder_for(
    reference: Reference, references: dict[tuple[str, str], SourceRecord]
) -> SourceRecord:
    record = references.get((reference.source_system, reference.source_id))
    if record is None or record.stakeholder_id is None:
        raise RowError(
            f"column '{reference.column}' is '{reference.source_id}', but no stakeholder has that "
            f"id in source system '{reference.source_system}'; import that system's stakeholders "
            "first, or correct the id"
        )
    return record


def _apply_row(
    session: Session,
    mapping: ImportMapping,
    row: ConvertedRow,
    references: dict[tuple[str, str], SourceRecord],
    entry: ImportLedgerEntry | None,
) -> int:
    values = row.values
    target = mapping.target
    if target == "stakeholders":
        return _apply_stakeholder_record(session, mapping, row, entry)
    if target == "interactions":
        source = _stakeholder_for(values["stakeholder"], references)
        interaction = session.get_one(Interaction, entry.entity_id) if entry else Interaction()
        interaction.stakeholder_id = source.stakeholder_id  # type: ignore[assignment]
        interaction.source_record_id = source.id
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
        session.add(interaction)
        session.flush()
        return interaction.id
    if target == "consents":
        source = _stakeholder_for(values["stakeholder"], references)
        consent = session.get_one(Consent, entry.entity_id) if entry else Consent()
        consent.stakeholder_id = source.stakeholder_id  # type: ignore[assignment]
        consent.purpose = values["purpose"]
        consent.status = values["status"]
        consent.channel_code = values.get("channel")
        consent.recorded_at = values["recorded_at"]
        consent.source = mapping.source_system
        session.add(consent)
        session.flush()
        return consent.id
    if target == "feedback":
        item = session.get_one(FeedbackItem, entry.entity_id) if entry else FeedbackItem()
        reference = values.get("stakeholder")
        item.stakeholder_id = (
            _stakeholder_for(reference, references).stakeholder_id if reference else None
        )
        item.text = values["text"]
        item.received_at = values["received_at"]
        item.source_kind = values["source_kind"]
        item.channel_code = values.get("channel")
        item.language = values.get("language")
        item.analysis_status = "pending"
        session.add(item)
        session.flush()
        return item.id
    raise AssertionError(f"no handler for target {target}")  # mapping validation prevents this


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


def _apply_stakeholder_record(
    session: Session, mapping: ImportMapping, row: ConvertedRow, entry: ImportLedgerEntry | None
) -> int:
    """Keep the source record as it came; give it a provisional golden record until resolved.

    A new source record gets a stakeholder of its own at once, so interactions and consent can
    point at someone before identity resolution merges duplicates.
    """
    values = row.values
    attributes = {key: _jsonable(value) for key, value in values.items()}
    if entry is not None:
        record = session.get_one(SourceRecord, entry.entity_id)
    else:
        existing = session.scalar(
            select(SourceRecord).where(
                SourceRecord.source_system == mapping.source_system,
                SourceRecord.source_id == row.source_id,
            )
        )
        record = existing or SourceRecord(
            source_system=mapping.source_system, source_id=row.source_id
        )
    record.attributes = attributes
    record.imported_at = _utcnow()
    session.add(record)
    session.flush()
    stakeholder = (
        session.get_one(Stakeholder, record.stakeholder_id) if record.stakeholder_id else None
    )
    if stakeholder is None:
        stakeholder = Stakeholder()
        session.add(stakeholder)
    _fill_golden(stakeholder, values)
    session.flush()
    if record.stakeholder_id is None:
        record.stakeholder_id = stakeholder.id
        session.flush()
    _set_interests(session, stakeholder.id, values.get("therapeutic_interests") or [])
    return record.id


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


def _set_interests(session: Session, stakeholder_id: int, codes: list[str]) -> None:
    have = set(
        session.scalars(
            select(TherapeuticInterest.therapeutic_area_code).where(
                TherapeuticInterest.stakeholder_id == stakeholder_id
            )
        )
    )
    for code in sorted(set(codes) - have):
        session.add(TherapeuticInterest(stakeholder_id=stakeholder_id, therapeutic_area_code=code))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Reference):
        return {"source_system": value.source_system, "source_id": value.source_id}
    return value


def _content_sha256(values: dict[str, Any]) -> str:
    canonical = json.dumps(
        {key: _jsonable(value) for key, value in values.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def mapping_of_run(run: ImportRun) -> ImportMapping:
    return parse_mapping(run.mapping, default_name=run.mapping_name)
