"""Run imports: every row ends stored or quarantined, and running an import again is harmless.

Rows are applied in batches, each in its own transaction together with its ledger entries,
quarantined rows and the run's counters. A process killed mid-import loses at most the batch in
flight, which was never committed; running the import again finds the committed rows unchanged in
the ledger and completes the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

# Every table, so the foreign keys of the rows written (interactions -> journey stages, ...)
# resolve in a process that loaded nothing but the importer, like `cpxm import`.
import cpxm.schema  # noqa: F401
from cpxm.db import chunked, session_factory
from cpxm.errors import DomainError
from cpxm.heap import fewer_collections
from cpxm.ingest import BATCH_SIZE
from cpxm.ingest.apply import (
    BatchCarry,
    ImportReport,
    PreviewRow,
    RowOutcome,
    apply_batch,
    batch_carry,
    preview_rows,
)
from cpxm.ingest.column_reader import column_batches
from cpxm.ingest.columnar import ColumnConverter, ConvertedBatch
from cpxm.ingest.mapping import ImportMapping, parse_mapping
from cpxm.ingest.models import ImportRun, QuarantinedRow
from cpxm.ingest.quarantine import (
    ImportRunNotFound,
    QuarantinedRowNotFound,
    QuarantineError,
    discard_quarantined,
    get_run,
    list_quarantined,
    list_runs,
)
from cpxm.ingest.raw import RawRecord, ReadError
from cpxm.ingest.responses import check_survey_mapping
from cpxm.ingest.rows import Lookups
from cpxm.timeutil import utc_now
from cpxm.workspace.models import (
    Channel,
    Country,
    Department,
    LifecyclePhase,
    Product,
    TherapeuticArea,
)

ProgressCallback = Callable[[int], None]  # rows read so far

# What callers of an import use, with the service's functions.
__all__ = [
    "ImportReport",
    "ImportRunNotFound",
    "QuarantineError",
    "QuarantinedRowNotFound",
    "RowOutcome",
    "apply_batch",
    "batch_carry",
    "discard_quarantined",
    "get_run",
    "list_quarantined",
    "list_runs",
]


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
    preview: list[PreviewRow] | None = None,
    preview_limit: int = 20,
) -> ImportReport:
    """Import ``path`` through ``mapping``, committing batch by batch (nothing, if ``dry_run``).

    ``preview`` receives the first ``preview_limit`` rows as they would be stored (a dry run's
    page shows them)."""
    if not path.is_file():
        raise ReadError(f"{path} does not exist or is not a file")

    def batches(converter: ColumnConverter) -> Iterator[ConvertedBatch]:
        # One direction for every file and target: read into column batches, convert them.
        for batch in column_batches(path, mapping, batch_size):
            yield converter(batch)

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
        preview=preview,
        preview_limit=preview_limit,
    )


# Batches from a source that needs the import's converter first (a file, see ``import_file``).
BatchSource = Callable[[ColumnConverter], Iterator[ConvertedBatch]]


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
    preview: list[PreviewRow] | None = None,
    preview_limit: int = 20,
) -> ImportReport:
    """Import rows: already read (a replay of quarantined rows), or converted batches from a
    source (a file, see ``import_file``).

    ``run_id`` names a queued run (an upload handed to a worker) to carry out; otherwise the
    import gets a run of its own. A run that fails says why in ``error``.
    """
    make_session = session_factory(engine)
    report = ImportReport(run_id=None, dry_run=dry_run)
    with make_session() as session:
        if run_id is not None:
            run = session.get_one(ImportRun, run_id)
            run.status, run.started_at = "running", utc_now()
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
            _apply_batches(
                engine,
                records,
                mapping,
                carry,
                report,
                batch_size,
                progress,
                (preview, preview_limit) if preview is not None else None,
            )
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
    run.status, run.error, run.finished_at = "failed", str(error)[:2000], utc_now()
    session.commit()


def _apply_batches(
    engine: Engine,
    records: Iterable[RawRecord] | BatchSource,
    mapping: ImportMapping,
    carry: BatchCarry,
    report: ImportReport,
    batch_size: int,
    progress: ProgressCallback | None,
    preview: tuple[list[PreviewRow], int] | None = None,
) -> None:
    make_session = session_factory(engine)
    dry_run = report.dry_run
    convert = carry.converter
    batches = (
        records(convert)
        if callable(records)
        else (convert.records(chunk) for chunk in chunked(records, batch_size))
    )
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
            wanted = preview is not None and len(preview[0]) < preview[1]
            outcomes: list[RowOutcome] | None = [] if wanted else None
            outcome = apply_batch(
                session,
                mapping=mapping,
                converted=batch,
                run_id=run_id,
                carry=carry,
                outcomes=outcomes,
            )
            if preview is not None and outcomes is not None:
                shown, limit = preview
                shown.extend(preview_rows(batch, outcomes, limit - len(shown)))
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
        "started_at": utc_now(),
    }


def _add(report: ImportReport, outcome: ImportReport) -> None:
    report.read += outcome.read
    report.created += outcome.created
    report.updated += outcome.updated
    report.unchanged += outcome.unchanged
    report.quarantined += outcome.quarantined
    report.blanked += outcome.blanked


def record_counts(session: Session, report: ImportReport, *, finished: bool = False) -> None:
    run = session.get_one(ImportRun, report.run_id)
    run.rows_read = report.read
    run.rows_created = report.created
    run.rows_updated = report.updated
    run.rows_unchanged = report.unchanged
    run.rows_quarantined = report.quarantined
    if finished:
        run.status = "completed"
        run.finished_at = utc_now()
    session.flush()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def mapping_of_run(run: ImportRun) -> ImportMapping:
    return parse_mapping(run.mapping, default_name=run.mapping_name)


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
            row.resolved_at = utc_now()
        session.commit()
    return report
