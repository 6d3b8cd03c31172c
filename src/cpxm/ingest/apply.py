"""The write step of an import: a converted batch stored, counted or quarantined, row by row
accounted for, with its ledger entries, in the caller's transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.ingest.column_writer import COLUMN_TARGETS, write_new_rows
from cpxm.ingest.columnar import ColumnConverter, ConvertedBatch
from cpxm.ingest.entities import PendingRow
from cpxm.ingest.ledger import (
    close_earlier_quarantine,
    ledger_entries,
    supersede_keyless,
    write_ledger,
)
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.models import ImportRun, QuarantinedRow
from cpxm.ingest.quality import close_earlier_issues, has_open_issues, record_issues
from cpxm.ingest.raw import RawRecord
from cpxm.ingest.references import ReferenceCache
from cpxm.ingest.rows import ConvertedRow, Lookups, Reference, RowError
from cpxm.ingest.writers import (
    blank_unknown_references,
    check_row,
    prepare_batch,
    write_rows,
)
from cpxm.timeutil import utc_now


@dataclass
class ImportReport:
    run_id: int | None
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    blanked: int = 0  # values blanked and logged as data-quality issues, in stored rows
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


@dataclass
class PreviewRow:
    """One row of a dry run as CPXM would store it: what the file said, the values after
    conversion (field -> text), and what would happen (created, updated, unchanged,
    quarantined with the reason)."""

    row_number: int
    raw: dict[str, str | None]
    values: dict[str, str]
    status: str
    reason: str | None = None


def preview_rows(
    converted: ConvertedBatch, outcomes: list[RowOutcome], limit: int
) -> list[PreviewRow]:
    """The first ``limit`` rows of a batch applied with ``outcomes``, for a dry run to show."""
    positions = list(range(min(limit, len(converted))))
    if not positions:
        return []
    records = converted.batch.records(np.array(positions, dtype=np.int64))
    storable = [p for p in positions if outcomes[p].status != "quarantined"]
    rows = dict(zip(storable, _rows(converted, storable), strict=True)) if storable else {}
    shown = []
    for position, record in zip(positions, records, strict=True):
        outcome = outcomes[position]
        converted_row = rows.get(position)
        values = (
            {name: _shown(value) for name, value in converted_row.values.items()}
            if converted_row is not None
            else {}
        )
        shown.append(
            PreviewRow(
                row_number=record.row_number,
                raw=dict(record.values),
                values=values,
                status=outcome.status or "stored",
                reason=outcome.reason,
            )
        )
    return shown


def _shown(value: Any) -> str:
    if isinstance(value, Reference):
        return f"{value.source_id} (in {value.source_system})"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_shown(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_shown(item) for item in value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


@dataclass
class BatchCarry:
    """What one import carries from batch to batch, so no batch works it out again."""

    converter: ColumnConverter
    references: ReferenceCache = field(default_factory=ReferenceCache)
    # Whether earlier runs left open quarantined rows this import may resolve or supersede;
    # when none did, the per-batch search for them is skipped. The same for quality issues.
    earlier_quarantine: bool = True
    earlier_issues: bool = True


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
        converter=ColumnConverter(mapping, lookups),
        earlier_quarantine=earlier is not None,
        earlier_issues=has_open_issues(session, mapping),
    )


def apply_batch(
    session: Session,
    *,
    mapping: ImportMapping,
    converted: ConvertedBatch,
    run_id: int,
    carry: BatchCarry,
    outcomes: list[RowOutcome] | None = None,
) -> ImportReport:
    """Store or quarantine each row of one converted batch; flushes, never commits.

    When ``outcomes`` is given, it receives one RowOutcome per row, in order. ``carry`` comes
    from ``batch_carry`` once per import (its converter converted the batch).
    """
    count = len(converted)
    outcome = ImportReport(run_id=run_id, read=count)
    keys: list[str | None] = converted.keys.to_pylist()
    found_problems = converted.batch.problems
    problems = found_problems.to_pylist() if found_problems is not None else None
    digests = converted.digests
    ledger = ledger_entries(session, mapping, [key for key in keys if key is not None])
    single = _single(converted)
    # Per-row outcomes only for callers that answer per row: this loop runs a million times.
    per_row = [RowOutcome("", key) for key in keys] if outcomes is not None else None
    stored_keys: set[str] = set()
    quarantined_keys: list[str] = []
    keyless: list[QuarantinedRow] = []  # quarantined without a source id

    def quarantine(positions: list[int], reasons: list[str]) -> None:
        records = converted.batch.records(np.array(positions, dtype=np.int64))
        for position, record, reason in zip(positions, records, reasons, strict=True):
            key = keys[position]
            stored = _quarantine(session, run_id, record, reason, key)
            if per_row is not None:
                result = per_row[position]
                result.status, result.reason, result.quarantined = "quarantined", reason, stored
            if key:
                quarantined_keys.append(key)
            else:
                keyless.append(stored)
            outcome.quarantined += 1

    rejected: tuple[list[int], list[str]] = ([], [])
    new_by_columns: list[int] = []
    by_rows: list[int] = []
    column_written = mapping.target in COLUMN_TARGETS
    looked_at: Iterable[int] = range(count)
    if column_written and problems is None and not ledger:
        # A fresh export's batch: every row converted by columns whose id it holds once is new
        # and written by columns; only the others need a look (a million of them, otherwise).
        direct = single.copy()
        direct[list(converted.explained)] = False
        new_by_columns = np.flatnonzero(direct).tolist()
        looked_at = np.flatnonzero(~direct).tolist()
    for position in looked_at:
        key = keys[position]
        if problems is not None and (problem := problems[position]) is not None:
            rejected[0].append(position)
            rejected[1].append(problem)
            continue
        entry = ledger.get(key) if key is not None else None
        once = bool(single[position])
        if (
            entry is not None
            and key is not None
            and once
            and entry.content_sha256 == digests[position]
        ):
            # Said exactly this before: nothing to check or write.
            if per_row is not None:
                per_row[position].status = "unchanged"
            outcome.unchanged += 1
            stored_keys.add(key)
            continue
        explained = converted.explained.get(position)
        if isinstance(explained, str):
            rejected[0].append(position)
            rejected[1].append(explained)
        elif explained is None and column_written and entry is None and once:
            new_by_columns.append(position)
        else:
            by_rows.append(position)
    quarantine(*rejected)
    bulk_ids: dict[str, int] = {}
    if new_by_columns:
        wanted = np.array(new_by_columns, dtype=np.int64)
        written, entity_ids = write_new_rows(
            session,
            mapping=mapping,
            converted=converted,
            positions=wanted,
            run_id=run_id,
            references=carry.references,
        )
        outcome.created += len(written)
        if per_row is not None or carry.earlier_quarantine:
            # Only for the outcomes and the quarantine: a million keys cost half a second.
            bulk_ids = dict(zip(converted.keys.take(written).to_pylist(), entity_ids, strict=True))
        if per_row is not None:
            for position in written.tolist():
                per_row[position].status = "created"
        # A reference naming nobody: the row writer says so.
        by_rows = sorted([*by_rows, *np.setdiff1d(wanted, written).tolist()])
    rows = _rows(converted, by_rows)
    changed = {
        row.source_id
        for position, row in zip(by_rows, rows, strict=True)
        if (known := ledger.get(row.source_id)) is None or known.content_sha256 != digests[position]
    }
    # Only rows that differ from the ledger are checked and written, so only their references
    # are resolved.
    context = prepare_batch(
        session, mapping, [row for row in rows if row.source_id in changed], carry.references
    )
    # The last occurrence of a source id in the batch is the one written; earlier ones count
    # as if they had been written first, so a batch and a row-by-row import report alike.
    pending: dict[str, PendingRow] = {}
    pending_positions: dict[str, int] = {}
    written_digests: dict[str, str] = {}
    failed: tuple[list[int], list[str]] = ([], [])
    for position, row in zip(by_rows, rows, strict=True):
        source_id = row.source_id
        digest = digests[position]
        entry = ledger.get(source_id)
        previous = written_digests.get(source_id, entry.content_sha256 if entry else None)
        result = per_row[position] if per_row is not None else None
        if result is not None:
            result.source_id = source_id
        if previous == digest:
            if result is not None:
                result.status = "unchanged"
            outcome.unchanged += 1
            continue
        # An optional reference naming nobody (an interaction's employee) is blanked and logged.
        checked = blank_unknown_references(mapping, row, context)
        if checked is not row:
            # The ledger keeps a digest no row has, so the next import of the same row looks at
            # it again: the employee it names may have been imported meanwhile.
            digest = hashlib.sha256(f"unresolved reference:{digest}".encode()).hexdigest()
            row = checked
        try:
            columns = check_row(mapping, row, context)
        except RowError as failure:
            failed[0].append(position)
            failed[1].append(str(failure))
            continue
        if previous is None:
            outcome.created += 1
        else:
            outcome.updated += 1
        if result is not None:
            result.status = "created" if previous is None else "updated"
        written_digests[source_id] = digest
        pending[source_id] = PendingRow(row, entry.entity_id if entry else None, columns)
        pending_positions[source_id] = position
    quarantine(*failed)
    written_ids = write_rows(
        session, mapping=mapping, pending=list(pending.values()), context=context
    )
    write_ledger(session, mapping, run_id, ledger, written_ids, written_digests)
    outcome.blanked = _log_issues(
        session, mapping, run_id, converted, pending, pending_positions, written_ids, carry
    )
    if carry.earlier_quarantine:
        stored_keys |= bulk_ids.keys() | {row.source_id for row in rows}
        stored_keys -= set(quarantined_keys)
        close_earlier_quarantine(session, mapping, run_id, stored_keys, "resolved")
        close_earlier_quarantine(session, mapping, run_id, set(quarantined_keys), "superseded")
        supersede_keyless(session, mapping, run_id, keyless)
    if outcomes is not None and per_row is not None:
        for result in per_row:
            if result.status != "quarantined" and result.source_id is not None:
                entry = ledger.get(result.source_id)
                result.entity_id = (
                    written_ids.get(result.source_id)
                    or bulk_ids.get(result.source_id)
                    or (entry.entity_id if entry else None)
                )
        outcomes.extend(per_row)
    return outcome


def _log_issues(
    session: Session,
    mapping: ImportMapping,
    run_id: int,
    converted: ConvertedBatch,
    pending: dict[str, PendingRow],
    positions: dict[str, int],
    written_ids: dict[str, int],
    carry: BatchCarry,
) -> int:
    """Record the values the written rows were stored without; close what earlier runs said
    of the same source ids. Returns how many issues were recorded."""
    flagged = {source_id for source_id, waiting in pending.items() if waiting.row.issues}
    if carry.earlier_issues:
        close_earlier_issues(session, mapping, run_id, flagged, "superseded")
        close_earlier_issues(session, mapping, run_id, set(pending) - flagged, "resolved")
    if not flagged:
        return 0
    row_numbers = converted.batch.row_numbers
    return record_issues(
        session,
        run_id=run_id,
        written=[
            (
                int(row_numbers[positions[source_id]]),
                source_id,
                written_ids.get(source_id),
                pending[source_id].row.issues,
            )
            for source_id in sorted(flagged, key=positions.__getitem__)
        ],
    )


def _single(converted: ConvertedBatch) -> np.ndarray:
    """Per row: whether its source id occurs once in the batch (a row without one: False)."""
    encoded = converted.keys.dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
    occurrences = np.bincount(codes, minlength=len(encoded.dictionary) + 1)
    single: np.ndarray = occurrences[codes] == 1
    single[codes == 0] = False
    return single


def _rows(converted: ConvertedBatch, positions: list[int]) -> list[ConvertedRow]:
    """The rows at ``positions`` as converted rows: by columns, or as explained."""
    by_columns = [position for position in positions if position not in converted.explained]
    from_columns = dict(
        zip(by_columns, converted.rows(np.array(by_columns, dtype=np.int64)), strict=True)
    )
    rows = []
    for position in positions:
        explained = converted.explained.get(position)
        rows.append(explained if isinstance(explained, ConvertedRow) else from_columns[position])
    return rows


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
        created_at=utc_now(),
    )
    session.add(row)
    return row


def _storable(text: str | None) -> Any:
    """``text`` as a store keeps it: NUL characters (which PostgreSQL refuses) and lone
    surrogates (which no encoding writes) spelt out as escapes, so the row can be shown."""
    if text is None or (text.isascii() and "\x00" not in text):
        return text
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
