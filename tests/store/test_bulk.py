"""The engine's bulk paths write what the ORM would: values converted, only the named rows."""

from __future__ import annotations

import gc
from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from cpxm.analytics.summaries import counted_after_insert, summary_drift
from cpxm.db import bulk_insert, bulk_insert_columns, bulk_update, reserve_ids
from cpxm.heap import BULK_GC_THRESHOLD, fewer_collections
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from tests.factories import make_stakeholder, make_taxonomy


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


TRICKY_NOTES = [
    "",  # an empty text is not a missing one
    None,
    'quoted "word", a comma; a semicolon',
    "line one\r\nline two\nline three",
    "\\.",  # PostgreSQL's end-of-data marker, alone on its line
    "back\\slash\tand tab",
    "emoji \U0001f489 and umlaut \u00fc",
    "x" * 20_000,
]


def test_a_column_wise_insert_stores_every_text_as_given(session: Session) -> None:
    """PostgreSQL gets these as one CSV COPY; what it stores must be what was sent."""
    make_taxonomy(session)
    person = make_stakeholder(session)
    table: Table = Interaction.__table__  # type: ignore[assignment]
    count = len(TRICKY_NOTES)
    ids = reserve_ids(session, table, count)
    moments = [datetime(2025, 3, 1, 9, 30, 15, 250_000) + timedelta(days=i) for i in range(count)]
    with counted_after_insert(session.connection(), first_id=ids[0]):
        bulk_insert_columns(
            session.connection(),
            table,
            {
                "id": pa.array(ids, pa.int64()),
                "stakeholder_id": person.id,
                "occurred_at": pa.array(moments, pa.timestamp("us")),
                "channel_code": "email",
                "department_code": "sales",
                "interaction_type": pa.array(["visit"] * count),
                "direction": "outbound",
                "product_code": None,  # no default: left out, stored as NULL
                "notes": pa.array(TRICKY_NOTES, pa.string()),
            },
            count,
        )
    stored = session.execute(
        select(Interaction.notes, Interaction.occurred_at, Interaction.product_code)
        .where(Interaction.id.in_(ids))
        .order_by(Interaction.id)
    ).all()
    assert [row.notes for row in stored] == TRICKY_NOTES
    assert [row.occurred_at for row in stored] == moments
    assert all(row.product_code is None for row in stored)
    assert summary_drift(session).drifted_groups == 0
