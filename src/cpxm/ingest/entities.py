"""What every target writer shares: the rows to write, and fetching and numbering entities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.db import one_of
from cpxm.ingest.rows import ConvertedRow


@dataclass
class PendingRow:
    """A row to write; ``entity_id`` is the record it updates (from the ledger), if any."""

    row: ConvertedRow
    entity_id: int | None
    # The record's column values when checking the row already worked them out.
    columns: dict[str, Any] | None = None


def by_id(session: Session, model: type[Any], ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {
        entity.id: entity
        for entity in session.scalars(select(model).where(one_of(session, model.id, ids)))
    }
