"""What every target writer shares: the rows to write, and fetching and numbering entities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cpxm.db import one_of
from cpxm.ingest.rows import ConvertedRow


@dataclass
class PendingRow:
    """A row to write; ``entity_id`` is the record it updates (from the ledger), if any."""

    row: ConvertedRow
    entity_id: int | None


def assign_ids(session: Session, model: type[Any], entities: list[Any]) -> None:
    """On PostgreSQL, take ids from the table's sequence before inserting.

    With ids known, the ORM inserts with one prepared statement sent as a pipelined
    executemany, instead of multi-row INSERT ... RETURNING statements that psycopg must
    parse afresh each time (measured: about 5x faster on 10,000 rows).
    """
    if not entities or session.get_bind().dialect.name != "postgresql":
        return
    table = model.__table__.name
    ids = session.scalars(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table, "n": len(entities)},
    ).all()
    for entity, new_id in zip(entities, ids, strict=True):
        entity.id = new_id


def by_id(session: Session, model: type[Any], ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {
        entity.id: entity
        for entity in session.scalars(select(model).where(one_of(session, model.id, ids)))
    }
