"""The write step for new rows of the targets written column-wise (interactions).

A batch of a fresh export is mostly new rows whose every field was converted by columns. Their
references are resolved with one query each, then they are written with two bulk inserts
(records, ledger entries). Every other row (a changed row, a source id seen twice in the batch,
a reference naming nobody) is written by ``writers`` in the same transaction.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Table
from sqlalchemy.orm import Session

from cpxm.analytics.summaries import counted_after_insert
from cpxm.db import bulk_insert_columns, reserve_ids, server_timestamps
from cpxm.ingest.columnar import ConvertedBatch, FieldColumn, _stored
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.models import ImportLedgerEntry
from cpxm.ingest.references import ReferenceCache, resolve_keys
from cpxm.ingest.targets import TARGETS, FieldKind
from cpxm.interactions.models import Interaction

# Targets whose new rows are written column-wise here; the rest go through ``writers``.
COLUMN_TARGETS = frozenset({"interactions"})


def write_new_rows(
    session: Session,
    *,
    mapping: ImportMapping,
    converted: ConvertedBatch,
    positions: np.ndarray,
    run_id: int,
    references: ReferenceCache,
) -> tuple[np.ndarray, list[int]]:
    """Write the rows at ``positions`` (new to the ledger, once in the batch, converted by
    columns) with their ledger entries; flushes only. Returns the positions written and their
    record ids; a row whose reference names nobody is not written (its writer says why)."""
    new = np.zeros(len(converted), dtype=bool)
    new[positions] = True
    new, resolved = _resolve(session, mapping, converted, new, references)
    written = np.flatnonzero(new)
    if not len(written):
        return written, []
    entity_ids = _write_interactions(session, converted, resolved, written)
    ledger_rows = {
        "target": mapping.target,
        "source_system": mapping.source_system,
        "source_id": converted.keys.take(pa.array(written)),
        "entity_id": pa.array(entity_ids, pa.int64()),
        "content_sha256": pa.array([converted.digests[p] for p in written], pa.string()),
        "import_run_id": run_id,
    }
    bulk_insert_columns(
        session.connection(),
        cast(Table, ImportLedgerEntry.__table__),
        ledger_rows,
        len(written),
    )
    return written, entity_ids


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
            encoded = pa.array([_stored(column.constant)], pa.string()).dictionary_encode()
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
        wanted, wanted_type = definition.stakeholder_kind, definition.stakeholder_type
        hits = [
            hit
            if hit is not None
            and (wanted is None or hit.kind == wanted)
            and (wanted_type is None or hit.type == wanted_type)
            else None
            for hit in map(found.get, keys)
        ]
        # A row without a value (an optional reference) has nothing to resolve; typed, since a
        # column with no value at all has no distinct values to say so.
        found_hits = pa.array([hit is not None for hit in hits], pa.bool_())
        good = pc.fill_null(found_hits.take(indices), True)
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
    # An employee reference naming nobody sent its row to the row writer, which blanks it.
    columns["employee_id"] = resolved.get("employee.stakeholder_id")
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
