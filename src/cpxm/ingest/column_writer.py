"""Apply a column batch: unchanged rows counted, new rows written in bulk, the rest row by row.

A batch of a fresh export is mostly new rows whose every field the column path converted. Those
are checked against the ledger and their references resolved with one query each, then written
with two bulk inserts (records, ledger entries). Every other row (a changed row, a source id
seen twice in the batch, a value only the row path can read or reject) goes through
``service.apply_batch`` in the same transaction, so its outcome and reason are that path's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Table
from sqlalchemy.orm import Session

from cpxm.analytics.summaries import counted_after_insert
from cpxm.db import bulk_insert_columns, reserve_ids
from cpxm.ingest.column_reader import ColumnBatch
from cpxm.ingest.columnar import ConvertedBatch, FieldColumn
from cpxm.ingest.entities import server_timestamps
from cpxm.ingest.ledger import close_earlier_quarantine, ledger_entries
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.models import ImportLedgerEntry
from cpxm.ingest.references import ReferenceCache, resolve_keys
from cpxm.ingest.targets import TARGETS, FieldKind
from cpxm.interactions.models import Interaction


@dataclass
class ColumnOutcome:
    """What became of a batch's rows on the column path; the rest are in ``others``."""

    unchanged: int
    created: int
    others: np.ndarray  # positions of the rows left to the row-by-row path


def apply_columns(
    session: Session,
    *,
    mapping: ImportMapping,
    batch: ColumnBatch,
    converted: ConvertedBatch,
    run_id: int,
    references: ReferenceCache,
    earlier_quarantine: bool,
) -> ColumnOutcome:
    """Count the unchanged rows and write the new ones that need nothing else; flushes only."""
    count = len(batch)
    keys: list[str | None] = converted.keys.to_pylist()
    encoded = converted.keys.dictionary_encode()
    occurrences = np.bincount(
        encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False) + 1,
        minlength=len(encoded.dictionary) + 1,
    )
    repeated = occurrences[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False) + 1] > 1
    repeated[pc.is_null(converted.keys).to_numpy(zero_copy_only=False)] = False
    ledger = ledger_entries(session, mapping, [key for key in keys if key is not None])
    unchanged = np.zeros(count, dtype=bool)
    known = np.zeros(count, dtype=bool)
    if ledger:
        digests = converted.digests
        for position, key in enumerate(keys):
            entry = ledger.get(key) if key is not None else None
            if entry is not None:
                known[position] = True
                unchanged[position] = entry.content_sha256 == digests[position]
        unchanged &= ~repeated
    new = converted.fast & ~repeated & ~known
    resolved: dict[str, pa.Array] = {}
    if new.any():
        new, resolved = _resolve(session, mapping, converted, new, references)
    positions = np.flatnonzero(new)
    stored_keys = {keys[position] for position in np.flatnonzero(unchanged)}
    if len(positions):
        entity_ids = _write_interactions(session, converted, resolved, positions)
        ledger_rows = {
            "target": mapping.target,
            "source_system": mapping.source_system,
            "source_id": converted.keys.take(pa.array(positions)),
            "entity_id": pa.array(entity_ids, pa.int64()),
            "content_sha256": pa.array([converted.digests[p] for p in positions], pa.string()),
            "import_run_id": run_id,
        }
        bulk_insert_columns(
            session.connection(),
            cast(Table, ImportLedgerEntry.__table__),
            ledger_rows,
            len(positions),
        )
        stored_keys.update(keys[position] for position in positions)
    if earlier_quarantine:
        close_earlier_quarantine(
            session,
            mapping,
            run_id,
            {key for key in stored_keys if key is not None},
            "resolved",
        )
    return ColumnOutcome(
        unchanged=int(unchanged.sum()),
        created=len(positions),
        others=np.flatnonzero(~unchanged & ~new),
    )


def _resolve(
    session: Session,
    mapping: ImportMapping,
    converted: ConvertedBatch,
    new: np.ndarray,
    cache: ReferenceCache,
) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """Resolve the reference fields of the ``new`` rows; rows naming nobody leave ``new``
    (the row path quarantines them with its reason)."""
    resolved: dict[str, pa.Array] = {}
    for name, definition in TARGETS[mapping.target].fields.items():
        if definition.kind is not FieldKind.REFERENCE:
            continue
        column = converted.fields[name]
        if column.values is None and column.constant is None:
            continue  # an optional reference the mapping leaves out
        taken = pa.array(np.flatnonzero(new))
        if column.values is None:
            encoded = pa.array([column.constant], pa.string()).dictionary_encode()
            indices = pa.array(np.zeros(len(taken), dtype=np.int32))
        else:
            encoded = column.values.take(taken).dictionary_encode()
            indices = encoded.indices
        distinct: list[str] = encoded.dictionary.to_pylist()
        system = column.reference_system
        keys = (
            [(system, source_id) for source_id in distinct]
            if system is not None
            else [cast(tuple[str, str], tuple(text.split("\x1f", 1))) for text in distinct]
        )
        found = resolve_keys(session, set(keys), cache)
        wanted = definition.stakeholder_kind
        hits = [
            hit if hit is not None and (wanted is None or hit.kind == wanted) else None
            for hit in map(found.get, keys)
        ]
        # A row without a value (an optional reference) has nothing to resolve.
        good = pc.fill_null(pa.array([hit is not None for hit in hits]).take(indices), True)
        stakeholder_ids = pa.array([hit and hit.stakeholder_id for hit in hits], pa.int64())
        record_ids = pa.array([hit and hit.source_record_id for hit in hits], pa.int64())
        resolved[f"{name}.stakeholder_id"] = stakeholder_ids.take(indices)
        resolved[f"{name}.source_record_id"] = record_ids.take(indices)
        if not pc.all(good).as_py():
            new = new.copy()
            new[np.flatnonzero(new)[~good.to_numpy(zero_copy_only=False)]] = False
            resolved = {field: values.filter(good) for field, values in resolved.items()}
    return new, resolved


# Interaction columns and the fields they come from (``_interaction_columns`` row by row).
_INTERACTION_FIELDS = {
    "occurred_at": "occurred_at",
    "channel_code": "channel",
    "department_code": "department",
    "interaction_type": "interaction_type",
    "direction": "direction",
    "product_code": "product",
    "therapeutic_area_code": "therapeutic_area",
    "lifecycle_phase_code": "lifecycle_phase",
    "outcome": "outcome",
    "notes": "notes",
}


def _write_interactions(
    session: Session,
    converted: ConvertedBatch,
    resolved: dict[str, pa.Array],
    positions: np.ndarray,
) -> list[int]:
    table = cast(Table, Interaction.__table__)
    taken = pa.array(positions)
    ids = reserve_ids(session, table, len(positions))
    columns: dict[str, Any] = dict.fromkeys(column.key for column in table.columns)
    columns.update(server_timestamps(table))
    columns["id"] = pa.array(ids, pa.int64())
    columns["stakeholder_id"] = resolved["stakeholder.stakeholder_id"]
    columns["source_record_id"] = resolved["stakeholder.source_record_id"]
    for column, name in _INTERACTION_FIELDS.items():
        columns[column] = _taken(converted.fields[name], taken)
    connection = session.connection()
    with counted_after_insert(connection, first_id=ids[0]):
        bulk_insert_columns(connection, table, columns, len(positions))
    return ids


def _taken(column: FieldColumn, taken: pa.Array) -> Any:
    if column.values is None:
        return column.constant
    return column.values.take(taken)
