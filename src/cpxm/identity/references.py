"""Re-pointing every row that references a stakeholder, and putting it back exactly.

The referencing columns are found from the schema, so a table added later follows its
stakeholder through merges without a change here. Rows that would collide with one the survivor
already has (the same therapeutic interest, the same affiliation) are deleted and kept whole in
the merge event, so an unmerge re-inserts them as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    Table,
    UniqueConstraint,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from cpxm.db import Base, bulk_insert, chunked, one_of

# Columns that must not follow a merge: the demo's answer key, the merge bookkeeping itself,
# provenance (recomputed by survivorship) and the golden-record chain.
EXCLUDED = {
    ("demo_source_truth", "true_stakeholder_id"),
    ("stakeholders", "merged_into_id"),
    ("identity_merges", "survivor_id"),
    ("identity_merges", "merged_id"),
    ("identity_attribute_provenance", "stakeholder_id"),
}


@dataclass(frozen=True)
class Reference:
    table: Table
    column: Column[Any]
    # Key sets (primary key and unique constraints) that include the column: moving a row may
    # collide on one of them.
    unique_sets: tuple[tuple[str, ...], ...]


@cache
def references() -> tuple[Reference, ...]:
    stakeholders = Base.metadata.tables["stakeholders"]
    found: list[Reference] = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if (table.name, column.name) in EXCLUDED:
                continue
            if not any(fk.column.table is stakeholders for fk in column.foreign_keys):
                continue
            key_sets = [tuple(c.name for c in table.primary_key.columns)] + [
                tuple(c.name for c in constraint.columns)
                for constraint in table.constraints
                if isinstance(constraint, UniqueConstraint)
            ]
            unique_sets = tuple(keys for keys in key_sets if column.name in keys)
            found.append(Reference(table, column, unique_sets))
    return tuple(found)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _from_json(column: Column[Any], value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    python_type = column.type.python_type
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    return value


def _pk(table: Table, row: Any) -> list[Any]:
    return [_jsonable(row._mapping[c.name]) for c in table.primary_key.columns]


# Ids per statement: few round trips. ``one_of`` sends a list as one parameter, so this is
# not bounded by SQLite's parameter limit; it bounds the statement's working set.
CHUNK = 50_000

_MAP_METADATA = MetaData()
# The merge being applied, merged id -> survivor id: a temporary table, so every referencing
# table is re-pointed by one joined UPDATE instead of a statement per row.
MERGE_MAP = Table(
    "cpxm_merge_map",
    _MAP_METADATA,
    Column("merged_id", BigInteger, primary_key=True, autoincrement=False),
    Column("survivor_id", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
)


@contextmanager
def merge_map(session: Session, mapping: dict[int, int]) -> Iterator[Table]:
    """``MERGE_MAP`` holding ``mapping`` for the length of the block, in this transaction."""
    connection = session.connection()
    MERGE_MAP.create(connection)
    try:
        bulk_insert(connection, MERGE_MAP, sorted(mapping.items()))
        yield MERGE_MAP
    finally:
        MERGE_MAP.drop(connection)


def move_references(
    session: Session, *, mapping: dict[int, int], merge_table: Table
) -> dict[int, list[dict[str, Any]]]:
    """Point every reference to each key of ``mapping`` at its value, in bulk.

    ``merge_table`` is ``merge_map``'s table holding the same mapping. Returns, per moved-from
    id, what moved, for ``restore_references``. Only the key columns are read, once per
    table; rows that would collide are deleted (kept whole in the result) and the rest are
    re-pointed by one UPDATE joined to the merge map. A statement per row, even in one
    executemany, was most of the merge time when an import's provisional stakeholders fold.
    """
    moved: dict[int, list[dict[str, Any]]] = {from_id: [] for from_id in mapping}
    from_ids = sorted(mapping)
    for reference in references():
        table, column = reference.table, reference.column
        pk_columns = list(table.primary_key.columns)
        key_names = {c.name for c in pk_columns} | {column.name}
        key_names.update(name for keys in reference.unique_sets for name in keys)
        key_columns = [c for c in table.columns if c.name in key_names]
        rows = [
            row
            for chunk in chunked(from_ids, CHUNK)
            for row in session.execute(select(*key_columns).where(one_of(session, column, chunk)))
        ]
        if not rows:
            continue
        taken: set[tuple[Any, ...]] = set()
        if reference.unique_sets:
            targets = sorted({mapping[row._mapping[column.name]] for row in rows})
            for chunk in chunked(targets, CHUNK):
                for row in session.execute(
                    select(*key_columns).where(one_of(session, column, chunk))
                ):
                    taken.update(
                        (keys, tuple(row._mapping[name] for name in keys))
                        for keys in reference.unique_sets
                    )
        entries: dict[int, dict[str, Any]] = {}
        for row in rows:
            from_id = row._mapping[column.name]
            entry = entries.setdefault(
                from_id,
                {"table": table.name, "column": column.name, "moved": [], "deleted": []},
            )
            if not reference.unique_sets:
                entry["moved"].append(_pk(table, row))
                continue
            values = dict(row._mapping) | {column.name: mapping[from_id]}
            keys_after = [
                (keys, tuple(values[name] for name in keys)) for keys in reference.unique_sets
            ]
            if any(key in taken for key in keys_after):
                # Kept whole in the merge event, so an unmerge re-inserts it as it was.
                where = _pk_clause(table, dict(row._mapping))
                whole = session.execute(select(table).where(where)).one()
                entry["deleted"].append({k: _jsonable(v) for k, v in whole._mapping.items()})
                session.execute(delete(table).where(where))
            else:
                taken.update(keys_after)
                entry["moved"].append(_pk(table, row))
        if any(entry["moved"] for entry in entries.values()):
            session.execute(
                update(table)
                .where(column == merge_table.c.merged_id)
                .values({column.name: merge_table.c.survivor_id})
            )
        for from_id, entry in entries.items():
            moved[from_id].append(entry)
    return moved


def restore_references(
    session: Session, *, moved: list[dict[str, Any]], from_id: int, to_id: int
) -> None:
    """Undo ``move_references(from_id=from_id, to_id=to_id)`` row by row."""
    tables = Base.metadata.tables
    for entry in reversed(moved):
        table = tables[entry["table"]]
        column = table.columns[entry["column"]]
        pk_columns = list(table.primary_key.columns)
        for pk_values in entry["moved"]:
            # A primary key that contains the column now holds the survivor's id.
            now = {
                c.name: (to_id if c.name == column.name else _from_json(c, v))
                for c, v in zip(pk_columns, pk_values, strict=True)
            }
            session.execute(
                update(table)
                .where(_pk_clause(table, now), column == to_id)
                .values({column.name: from_id})
            )
        for row_values in entry["deleted"]:
            values = {name: _from_json(table.columns[name], v) for name, v in row_values.items()}
            session.execute(insert(table).values(values))


def _pk_clause(table: Table, values: dict[str, Any]) -> Any:
    return and_(*(c == _from_json(c, values[c.name]) for c in table.primary_key.columns))
