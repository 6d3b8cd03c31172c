"""Before rows are read: a row's source key as far as it can be told, and the file's columns
checked against the mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.raw import RawRecord, ReadError
from cpxm.ingest.readers import file_columns, read_rows


def source_key(mapping: ImportMapping, record: RawRecord) -> str | None:
    """The row's source id as far as it can be told before conversion (for the quarantine)."""
    columns = mapping.source_id_columns
    if len(columns) == 1:
        single = record.values.get(columns[0])
        return single[:200] if single is not None else None
    values = [record.values.get(column) for column in columns]
    if any(value is None for value in values):
        return None
    return "|".join(value for value in values if value is not None)[:200]


def read_checked(path: Path, mapping: ImportMapping) -> Iterator[RawRecord]:
    """The file's rows; fails before the first row when it lacks a column the mapping reads.

    A missing column would otherwise quarantine every row with the same reason. JSON Lines
    records may leave keys out, so they are checked row by row instead.
    """
    columns = file_columns(path, mapping.file)
    if columns:
        check_columns(path, mapping, columns)
    return read_rows(path, mapping.file)


def check_columns(path: Path, mapping: ImportMapping, columns: list[str]) -> None:
    """ReadError when the file's ``columns`` lack one the mapping reads."""
    missing = sorted(mapping.columns_used() - set(columns))
    if missing:
        raise ReadError(
            f"{path.name} has no column {', '.join(repr(c) for c in missing)}, which the "
            f"mapping '{mapping.name}' reads; its columns are: {', '.join(columns)}"
        )
