"""The import ledger: which record each source row became and a hash of what it said.

A row whose hash is in the ledger is unchanged and skipped; one with another hash updates the
record the ledger names. Entries are written in the batch's transaction, with their records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from cpxm.db import bulk_insert, one_of
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.models import ImportLedgerEntry, ImportRun, QuarantinedRow


class LedgerEntry(NamedTuple):
    """What the ledger says of one source row (read as plain rows: the ORM's identity map and
    instance bookkeeping cost more than the rest of an unchanged re-import)."""

    id: int
    entity_id: int
    content_sha256: str


def write_ledger(
    session: Session,
    mapping: ImportMapping,
    run_id: int,
    ledger: dict[str, LedgerEntry],
    written: dict[str, int],
    digests: dict[str, str],
) -> None:
    new_entries: list[tuple[object, ...]] = []
    changed: list[dict[str, object]] = []
    for source_id, entity_id in written.items():
        entry = ledger.get(source_id)
        if entry is None:
            new_entries.append(
                (
                    mapping.target,
                    mapping.source_system,
                    source_id,
                    entity_id,
                    digests[source_id],
                    run_id,
                )
            )
        else:
            # The entity may have changed (a deleted record created afresh, a shared link).
            changed.append(
                {
                    "entry_id": entry.id,
                    "entity_id": entity_id,
                    "content_sha256": digests[source_id],
                    "import_run_id": run_id,
                }
            )
    session.flush()
    if changed:
        ledger_table = cast(Table, ImportLedgerEntry.__table__)
        session.execute(
            update(ledger_table)
            .where(ledger_table.c.id == bindparam("entry_id"))
            .values(
                entity_id=bindparam("entity_id"),
                content_sha256=bindparam("content_sha256"),
                import_run_id=bindparam("import_run_id"),
            ),
            changed,
        )
    if new_entries:
        # New entries are never read back in this batch: the bulk path (COPY on PostgreSQL)
        # skips the ORM's per-object bookkeeping; the database numbers them.
        bulk_insert(
            session.connection(),
            cast(Table, ImportLedgerEntry.__table__),
            new_entries,
            _LEDGER_COLUMNS,
        )


_LEDGER_COLUMNS = (
    "target",
    "source_system",
    "source_id",
    "entity_id",
    "content_sha256",
    "import_run_id",
)


def close_earlier_quarantine(
    session: Session, mapping: ImportMapping, run_id: int, keys: set[str], status: str
) -> None:
    """Close open quarantined rows of earlier runs for the same source ids."""
    if not keys:
        return
    same_source = select(ImportRun.id).where(
        ImportRun.target == mapping.target,
        ImportRun.source_system == mapping.source_system,
        ImportRun.id != run_id,
    )
    session.execute(
        update(QuarantinedRow)
        .where(
            QuarantinedRow.status == "open",
            one_of(session, QuarantinedRow.source_key, sorted(keys)),
            QuarantinedRow.import_run_id.in_(same_source),
        )
        .values(status=status, resolved_at=datetime.now(UTC).replace(tzinfo=None))
        .execution_options(synchronize_session=False)
    )


def supersede_keyless(
    session: Session, mapping: ImportMapping, run_id: int, rows: list[QuarantinedRow]
) -> None:
    """Close open rows of earlier imports of the same file that were quarantined without a
    source id at the same row number for the same reason: importing a file again shows each
    of its problems once, as source ids do for the rest."""
    if not rows:
        return
    same_file = select(ImportRun.id).where(
        ImportRun.target == mapping.target,
        ImportRun.source_system == mapping.source_system,
        ImportRun.id != run_id,
        ImportRun.file_name
        == select(ImportRun.file_name).where(ImportRun.id == run_id).scalar_subquery(),
    )
    wanted = {(row.row_number, row.reason) for row in rows}
    earlier = [
        row_id
        for row_id, row_number, reason in session.execute(
            select(QuarantinedRow.id, QuarantinedRow.row_number, QuarantinedRow.reason).where(
                QuarantinedRow.status == "open",
                QuarantinedRow.source_key.is_(None),
                one_of(session, QuarantinedRow.row_number, sorted({n for n, _ in wanted})),
                QuarantinedRow.import_run_id.in_(same_file),
            )
        )
        if (row_number, reason) in wanted
    ]
    if earlier:
        session.execute(
            update(QuarantinedRow)
            .where(one_of(session, QuarantinedRow.id, earlier))
            .values(status="superseded", resolved_at=datetime.now(UTC).replace(tzinfo=None))
            .execution_options(synchronize_session=False)
        )


def ledger_entries(
    session: Session, mapping: ImportMapping, source_ids: list[str]
) -> dict[str, LedgerEntry]:
    if not source_ids:
        return {}
    rows = session.execute(
        select(
            ImportLedgerEntry.source_id,
            ImportLedgerEntry.id,
            ImportLedgerEntry.entity_id,
            ImportLedgerEntry.content_sha256,
        ).where(
            ImportLedgerEntry.target == mapping.target,
            ImportLedgerEntry.source_system == mapping.source_system,
            one_of(session, ImportLedgerEntry.source_id, set(source_ids)),
        )
    )
    return {
        source_id: LedgerEntry(entry_id, entity_id, digest)
        for source_id, entry_id, entity_id, digest in rows
    }
