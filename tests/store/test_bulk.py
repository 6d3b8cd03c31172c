"""The engine's bulk paths write what the ORM would: values converted, only the named rows."""

from __future__ import annotations

import gc
from datetime import date, datetime

import pytest
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from cpxm.db import bulk_insert, bulk_update, reserve_ids
from cpxm.heap import BULK_GC_THRESHOLD, fewer_collections
from cpxm.stakeholders.models import Stakeholder


def test_bulk_update_sets_the_named_columns_of_the_named_rows_only(session: Session) -> None:
    table: Table = Stakeholder.__table__  # type: ignore[assignment]
    ids = reserve_ids(session, table, 3)
    bulk_insert(
        session.connection(),
        table,
        [(i, "person", "hcp", f"Person {i}", "Old", date(1970, 1, 1)) for i in ids],
        ["id", "kind", "type", "display_name", "last_name", "birth_date"],
    )
    later = datetime(2026, 12, 4, 18, 30, 15, 123456)
    changed = bulk_update(
        session.connection(),
        table,
        [(ids[0], "New", date(1980, 2, 29), later), (ids[2], None, None, later)],
        ["last_name", "birth_date", "updated_at"],
    )
    assert changed == 2
    rows = {
        row.id: row
        for row in session.execute(
            select(
                Stakeholder.id,
                Stakeholder.display_name,
                Stakeholder.last_name,
                Stakeholder.birth_date,
                Stakeholder.updated_at,
            ).where(Stakeholder.id.in_(ids))
        )
    }
    # Dates and times come back as the types they went in as (SQLite stores them as text).
    assert (rows[ids[0]].last_name, rows[ids[0]].birth_date) == ("New", date(1980, 2, 29))
    assert rows[ids[0]].updated_at == later
    assert (rows[ids[1]].last_name, rows[ids[1]].birth_date) == ("Old", date(1970, 1, 1))
    assert rows[ids[1]].updated_at != later
    assert (rows[ids[2]].last_name, rows[ids[2]].birth_date) == (None, None)
    assert rows[ids[2]].display_name == f"Person {ids[2]}"  # columns not named stay
    assert bulk_update(session.connection(), table, [], ["last_name"]) == 0
    # Twice in one transaction: PostgreSQL's temporary table is gone after each.
    bulk_update(session.connection(), table, [(ids[1], "Again")], ["last_name"])
    assert session.scalar(select(Stakeholder.last_name).where(Stakeholder.id == ids[1])) == "Again"


def test_bulk_work_collects_garbage_less_often_and_restores_the_thresholds() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] >= BULK_GC_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the import failed")
    assert gc.get_threshold() == before
