"""What every target writer shares: the rows to write, and fetching and numbering entities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.db import one_of, reserve_ids, server_timestamps
from cpxm.ingest.rows import ConvertedRow


@dataclass
class PendingRow:
    """A row to write; ``entity_id`` is the record it updates (from the ledger), if any."""

    row: ConvertedRow
    entity_id: int | None
    # The record's column values when checking the row already worked them out.
    columns: dict[str, Any] | None = None


def assign_ids(session: Session, model: type[Any], entities: list[Any]) -> None:
    """Number new entities and fill their server-side timestamps before inserting them.

    With ids and timestamps known there is nothing for the database to return, so the ORM
    sends one prepared INSERT as an executemany: on SQLite instead of one INSERT ... RETURNING
    per row, on PostgreSQL instead of long multi-row statements psycopg must parse afresh each
    time. Measured on 100,000 imported call reports (benchmarks/import_load.py).
    """
    if not entities:
        return
    ids = reserve_ids(session, model.__table__, len(entities))
    stamps = server_timestamps(model.__table__)
    for entity, new_id in zip(entities, ids, strict=True):
        entity.id = new_id
        for key, now in stamps.items():
            if getattr(entity, key, None) is None:
                setattr(entity, key, now)


def by_id(session: Session, model: type[Any], ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {
        entity.id: entity
        for entity in session.scalars(select(model).where(one_of(session, model.id, ids)))
    }
