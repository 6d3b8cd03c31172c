"""Run imports: every row ends stored or quarantined, and running an import again is harmless.

Rows are applied in batches, each in its own transaction together with its ledger entries,
quarantined rows and the run's counters. A process killed mid-import loses at most the batch in
flight, which was never committed; running the import again finds the committed rows unchanged in
the ledger and completes the rest.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

# Every table, so the foreign keys of the rows written (interactions -> journey stages, ...)
# resolve in a process that loaded nothing but the importer, like `cpxm import`.
import cpxm.schema  # noqa: F401
from cpxm.db import chunked, session_factory
from cpxm.errors import DomainError
from cpxm.heap import fewer_collections
from cpxm.ingest import BATCH_SIZE
from cpxm.ingest.column_reader import column_batches
from cpxm.ingest.column_writer import apply_columns
from cpxm.ingest.columnar import ColumnWork, columnar_plan
from cpxm.ingest.entities import PendingRow
from cpxm.ingest.ledger import (
    close_earlier_quarantine,
    ledger_entries,
    supersede_keyless,
    write_ledger,
)
from cpxm.ingest.mapping import ImportMapping, parse_mapping
from cpxm.ingest.models import ImportRun, QuarantinedRow
from cpxm.ingest.prepare import source_key
from cpxm.ingest.raw import RawRecord, ReadError
from cpxm.ingest.references import ReferenceCache
from cpxm.ingest.responses import check_survey_mapping
from cpxm.ingest.rows import ConvertedRow, Lookups, RowConverter, RowError
from cpxm.ingest.writers import check_row, prepare_batch, write_rows
from cpxm.workspace.models import (
    Channel,
    Country,
    Department,
    LifecyclePhase,
    Product,
    TherapeuticArea,
)

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


@dataclass
class RowOutcome:
    """What became of one row: for callers that answer per row (the events API)."""

    status: str  # created, updated, unchanged, quarantined
    source_id: str | None
    entity_id: int | None = None
    reason: str | None = None
    quarantined: QuarantinedRow | None = None


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
    run_id: int | None = None,
) -> ImportReport:
    """Import ``path`` through ``mapping``, committing batch by batch (nothing, if ``dry_run``)."""
    if not path.is_file():
        raise ReadError(f"{path} does not exist or is not a file")

    def batches(lookups: Lookups) -> Iterator[Batch]:
        # One direction for every file: read into column batches; convert the columns where
        # the target's rows are written column-wise, else hand the batch's rows on.
        converter = columnar_plan(mapping, lookups)
        for batch in column_batches(path, mapping, batch_size):
            if converter is not None:
                yield ColumnWork(batch, converter(batch))
            else:
                yield batch.records(np.arange(len(batch)))

    return import_records(
        engine,
        records=batches,
        mapping=mapping,
        file_name=path.name,
        file_sha256=file_sha256(path),
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress,
        run_id=run_id,
    )


Batch = Sequence[RawRecord] | ColumnWork
BatchSource = Callable[[Lookups], Iterator[Batch]]


def import_records(
    engine: Engine,
    *,
    records: Iterable[RawRecord] | BatchSource,
    mapping: ImportMapping,
    file_name: str | None = None,
    file_sha256: str | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: ProgressCallback | None = None,
    run_id: int | None = None,
) -> ImportReport:
    """Import rows: already read (a batch pushed to the API), or batches from a source that
    needs the store's taxonomy codes first (a file, see ``import_file``).

    ``run_id`` names a queued run (an upload handed to a worker) to carry out; otherwise the
    import gets a run of its own. A run that fails says why in ``error``.
    """
    make_session = session_factory(engine)
    report = ImportReport(run_id=None, dry_run=dry_run)
    with make_session() as session:
        if run_id is not None:
            run = session.get_one(ImportRun, run_id)
            run.status, run.started_at = "running", _utcnow()
        else:
            run = ImportRun(**_run_columns(mapping, file_name, file_sha256))
            session.add(run)
        session.flush()
        report.run_id = run.id
        try:
            check_survey_mapping(session, mapping)
        except DomainError as error:
            _fail_run(session, run, error, dry_run)
            raise
        lookups = load_lookups(session)
        carry = batch_carry(session, mapping, lookups)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    try:
        with fewer_collections():
            _apply_batches(engine, records, mapping, lookups, carry, report, batch_size, progress)
    except Exception as error:
        if not dry_run:
            with make_session() as session:
                _fail_run(session, session.get_one(ImportRun, report.run_id), error, dry_run)
        raise
    if not dry_run:
        with make_session() as session:
            record_counts(session, report, finished=True)
            session.commit()
    return report


def _fail_run(session: Session, run: ImportRun, error: Exception, dry_run: bool) -> None:
    """Mark ``run`` failed with the error's own words (committed unless a dry run)."""
    if dry_run:
        session.rollback()
        return
    run.status, run.error, run.finished_at = "failed", str(error)[:2000], _utcnow()
    session.commit()


def _apply_batches(
    engine: Engine,
    records: Iterable[RawRecord] | BatchSource,
    mapping: ImportMapping,
    lookups: Lookups,
    carry: BatchCarry,
    report: ImportReport,
    batch_size: int,
    progress: ProgressCallback | None,
) -> None:
    make_session = session_factory(engine)
    dry_run = report.dry_run
    batches = records(lookups) if callable(records) else chunked(records, batch_size)
    for batch_number, batch in enumerate(batches):
        if batch_number in _ANALYZE_AFTER_BATCHES and not dry_run:
            refresh_statistics(engine)
        with make_session() as session:
            run_id = report.run_id
            assert run_id is not None
            if dry_run:
                # The run row was rolled back; a throwaway one keeps the batch's references valid.
                scratch = ImportRun(**_run_columns(mapping, None, None))
                session.add(scratch)
                session.flush()
                run_id = scratch.id
            if isinstance(batch, ColumnWork):
                outcome = apply_column_work(
                    session,
                    mapping=mapping,
                    work=batch,
                    lookups=lookups,
                    run_id=run_id,
                    carry=carry,
                )
            else:
                outcome = apply_batch(
                    session,
                    mapping=mapping,
                    records=batch,
                    lookups=lookups,
                    run_id=run_id,
                    carry=carry,
                )
            _add(report, outcome)
            if dry_run:
                session.rollback()
            else:
                record_counts(session, report)
                session.commit()
        if progress:
            progress(report.read)


def new_run(
    mapping: ImportMapping, *, file_name: str | None, file_sha256: str | None = None
) -> ImportRun:
    """An import run in status ``running``, for callers that apply batches themselves."""
    return ImportRun(**_run_columns(mapping, file_name, file_sha256))


# PostgreSQL plans the batch lookups from table statistics, and autovacuum refreshes them only
# after the fact: a ledger that grew from empty to 100,000 rows mid-import was still planned as
# empty, and each 2,000-id lookup took 14 s instead of 14 ms. Refreshing at a few points of
# growth keeps plans right at a cost of milliseconds.
_ANALYZE_AFTER_BATCHES = frozenset({2, 10, 50, 250, 1000})
_ANALYZED_TABLES = ("import_ledger", "source_records", "stakeholders", "quarantined_rows")


def refresh_statistics(engine: Engine) -> None:
    """ANALYZE the tables imports look rows up in (PostgreSQL only; SQLite needs no help)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE " + ", ".join(_ANALYZED_TABLES))


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


def record_counts(session: Session, report: ImportReport, *, finished: bool = False) -> None:
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


@dataclass
class BatchCarry:
    """What one import carries from batch to batch, so no batch works it out again."""

    converter: RowConverter
    references: ReferenceCache = field(default_factory=ReferenceCache)
    # Whether earlier runs left open quarantined rows this import may resolve or supersede;
    # when none did, the per-batch search for them is skipped.
    earlier_quarantine: bool = True


def batch_carry(session: Session, mapping: ImportMapping, lookups: Lookups) -> BatchCarry:
    earlier = session.scalar(
        select(QuarantinedRow.id)
        .join(ImportRun, ImportRun.id == QuarantinedRow.import_run_id)
        .where(
            QuarantinedRow.status == "open",
            ImportRun.target == mapping.target,
            ImportRun.source_system == mapping.source_system,
        )
        .limit(1)
    )
    return BatchCarry(
        converter=RowConverter(mapping, lookups), earlier_quarantine=earlier is not None
    )


def apply_batch(
    session: Session,
    *,
    mapping: ImportMapping,
    records: Sequence[RawRecord],
    lookups: Lookups,
    run_id: int,
    outcomes: list[RowOutcome] | None = None,
    carry: BatchCarry | None = None,
) -> ImportReport:
    """Store or quarantine each row of one batch; flushes, never commits.

    When ``outcomes`` is given, it receives one RowOutcome per record, in order. ``carry``
    comes from ``batch_carry`` once per import; without it the batch works alone.
    """
    if carry is None:
        carry = batch_carry(session, mapping, lookups)
    convert = carry.converter
    outcome = ImportReport(run_id=run_id, read=len(records))
    # Per-row outcomes only for callers that answer per row: this loop runs a million times.
    per_row: list[RowOutcome] | None = [] if outcomes is not None else None
    converted: list[tuple[RawRecord, ConvertedRow, RowOutcome | None, str]] = []
    quarantined_keys: list[str] = []
    keyless: list[QuarantinedRow] = []  # quarantined without a source id

    def quarantine(
        record: RawRecord, reason: str, key: str | None, result: RowOutcome | None
    ) -> None:
        stored = _quarantine(session, run_id, record, reason, key)
        if result is not None:
            result.status, result.reason, result.quarantined = "quarantined", reason, stored
        if key:
            quarantined_keys.append(key)
        else:
            keyless.append(stored)
        outcome.quarantined += 1

    keys = [source_key(mapping, record) for record in records]
    ledger = ledger_entries(session, mapping, [key for key in keys if key is not None])
    occurrences = Counter(keys)
    stored_keys: set[str] = set()
    for record, key in zip(records, keys, strict=True):
        result = None
        if per_row is not None:
            result = RowOutcome(status="", source_id=key)
            per_row.append(result)
        if record.problem:
            quarantine(record, record.problem, key, result)
            continue
        digest = convert.digest(record.values)
        entry = ledger.get(key) if key is not None else None
        if (
            entry is not None
            and key is not None
            and entry.content_sha256 == digest
            and occurrences[key] == 1
        ):
            # Said exactly this before: nothing to convert, check or write.
            if result is not None:
                result.status = "unchanged"
            outcome.unchanged += 1
            stored_keys.add(key)
            continue
        try:
            row = convert(record.values)
        except RowError as failure:
            quarantine(record, str(failure), key, result)
            continue
        converted.append((record, row, result, digest))
    rows = [row for _, row, _, _ in converted]
    changed = {
        row.source_id
        for _, row, _, digest in converted
        if (known := ledger.get(row.source_id)) is None or known.content_sha256 != digest
    }
    # Only rows that differ from the ledger are checked and written, so only their references
    # are resolved.
    context = prepare_batch(
        session, mapping, [row for row in rows if row.source_id in changed], carry.references
    )
    # The last occurrence of a source id in the batch is the one written; earlier ones count
    # as if they had been written first, so a batch and a row-by-row import report alike.
    pending: dict[str, PendingRow] = {}
    digests: dict[str, str] = {}
    for record, row, result, digest in converted:
        source_id = row.source_id
        entry = ledger.get(source_id)
        previous = digests.get(source_id, entry.content_sha256 if entry else None)
        if result is not None:
            result.source_id = source_id
        if previous == digest:
            if result is not None:
                result.status = "unchanged"
            outcome.unchanged += 1
            continue
        try:
            columns = check_row(mapping, row, context)
        except RowError as failure:
            quarantine(record, str(failure), source_id, result)
            continue
        if previous is None:
            outcome.created += 1
        else:
            outcome.updated += 1
        if result is not None:
            result.status = "created" if previous is None else "updated"
        digests[source_id] = digest
        pending[source_id] = PendingRow(row, entry.entity_id if entry else None, columns)
    written = write_rows(session, mapping=mapping, pending=list(pending.values()), context=context)
    write_ledger(session, mapping, run_id, ledger, written, digests)
    if carry.earlier_quarantine:
        stored_keys |= {row.source_id for row in rows}
        stored_keys -= set(quarantined_keys)
        close_earlier_quarantine(session, mapping, run_id, stored_keys, "resolved")
        close_earlier_quarantine(session, mapping, run_id, set(quarantined_keys), "superseded")
        supersede_keyless(session, mapping, run_id, keyless)
    if outcomes is not None and per_row is not None:
        for result in per_row:
            if result.status != "quarantined" and result.source_id is not None:
                entry = ledger.get(result.source_id)
                result.entity_id = written.get(result.source_id) or (
                    entry.entity_id if entry else None
                )
        outcomes.extend(per_row)
    return outcome


def apply_column_work(
    session: Session,
    *,
    mapping: ImportMapping,
    work: ColumnWork,
    lookups: Lookups,
    run_id: int,
    carry: BatchCarry,
) -> ImportReport:
    """Apply a column batch: what the column path cannot settle goes through ``apply_batch``."""
    done = apply_columns(
        session,
        mapping=mapping,
        batch=work.batch,
        converted=work.converted,
        run_id=run_id,
        references=carry.references,
        earlier_quarantine=carry.earlier_quarantine,
    )
    settled = len(work.batch) - len(done.others)
    outcome = ImportReport(
        run_id=run_id, read=settled, created=done.created, unchanged=done.unchanged
    )
    if len(done.others):
        rest = apply_batch(
            session,
            mapping=mapping,
            records=work.batch.records(done.others),
            lookups=lookups,
            run_id=run_id,
            carry=carry,
        )
        _add(outcome, rest)
    return outcome


def _quarantine(
    session: Session, run_id: int, record: RawRecord, reason: str, source_key: str | None
) -> QuarantinedRow:
    row = QuarantinedRow(
        import_run_id=run_id,
        row_number=record.row_number,
        source_key=source_key,
        raw={_storable(key): _storable(value) for key, value in record.values.items()},
        reason=_storable(f"row {record.row_number}: {reason}"),
        status="open",
        created_at=_utcnow(),
    )
    session.add(row)
    return row


def _storable(text: str | None) -> Any:
    """``text`` as a store keeps it: NUL characters (which PostgreSQL refuses) and lone
    surrogates (which no encoding writes) spelt out as escapes, so the row can be shown."""
    if text is None or (text.isascii() and "\x00" not in text):
        return text
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def mapping_of_run(run: ImportRun) -> ImportMapping:
    return parse_mapping(run.mapping, default_name=run.mapping_name)


def list_runs(session: Session, *, limit: int, offset: int) -> tuple[list[ImportRun], int]:
    """Import runs, newest first, with the total for pagination."""
    total = session.scalar(select(func.count(ImportRun.id))) or 0
    runs = session.scalars(
        select(ImportRun).order_by(ImportRun.id.desc()).limit(limit).offset(offset)
    )
    return list(runs), total


class ImportRunNotFound(DomainError):
    status_code = 404


def get_run(session: Session, *, run_id: int) -> ImportRun:
    run = session.get(ImportRun, run_id)
    if run is None:
        raise ImportRunNotFound(f"import run {run_id} not found")
    return run


def list_quarantined(
    session: Session,
    *,
    run_id: int | None = None,
    status: str | None = "open",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QuarantinedRow], int]:
    """Quarantined rows, oldest first, with the total for pagination."""
    query = select(QuarantinedRow)
    if run_id is not None:
        query = query.where(QuarantinedRow.import_run_id == run_id)
    if status is not None:
        query = query.where(QuarantinedRow.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(QuarantinedRow.id).limit(limit).offset(offset)).all()
    return list(rows), total


class QuarantineError(DomainError):
    """A replay or discard that cannot be done as asked (the row is no longer open)."""

    status_code = 409


class QuarantinedRowNotFound(QuarantineError):
    status_code = 404


def replay_quarantined(
    engine: Engine, *, row_ids: list[int], corrections: dict[str, str | None] | None = None
) -> ImportReport:
    """Try open quarantined rows again, with ``corrections`` (column -> value) applied.

    The replay is an import run of its own under the original mapping. Each replayed row is
    marked ``replayed``; a row that fails again is quarantined afresh with its new reason.
    """
    with session_factory(engine)() as session:
        rows = session.scalars(select(QuarantinedRow).where(QuarantinedRow.id.in_(row_ids))).all()
        missing = sorted(set(row_ids) - {row.id for row in rows})
        if missing:
            raise QuarantinedRowNotFound(
                f"no quarantined row with id {', '.join(map(str, missing))}"
            )
        closed = [row.id for row in rows if row.status != "open"]
        if closed:
            raise QuarantineError(
                f"quarantined row(s) {', '.join(map(str, closed))} are no longer open"
            )
        run_ids = {row.import_run_id for row in rows}
        if len(run_ids) > 1:
            raise QuarantineError("replay rows of one import run at a time")
        original = session.get_one(ImportRun, run_ids.pop())
        mapping = mapping_of_run(original)
        records = [RawRecord(row.row_number, {**row.raw, **(corrections or {})}) for row in rows]
    report = import_records(
        engine,
        records=records,
        mapping=mapping,
        file_name=f"replay of import run {original.id}",
    )
    with session_factory(engine)() as session:
        for row in session.scalars(select(QuarantinedRow).where(QuarantinedRow.id.in_(row_ids))):
            row.status = "replayed"
            row.resolved_at = _utcnow()
        session.commit()
    return report


def discard_quarantined(session: Session, *, row_id: int) -> QuarantinedRow:
    """Mark a quarantined row as deliberately not imported (it stays, for the audit trail)."""
    row = session.get(QuarantinedRow, row_id)
    if row is None:
        raise QuarantinedRowNotFound(f"no quarantined row with id {row_id}")
    if row.status != "open":
        raise QuarantineError(f"quarantined row {row_id} is already {row.status}")
    row.status = "discarded"
    row.resolved_at = _utcnow()
    session.flush()
    return row
