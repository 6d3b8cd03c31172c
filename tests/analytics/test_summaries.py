"""The interaction summary stays exact under every kind of write, and rebuilds when it is not."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from cpxm.analytics.models import InteractionDailyCount
from cpxm.analytics.service import monthly_interactions
from cpxm.analytics.summaries import (
    counted_after_insert,
    rebuild_summaries,
    refresh_planner_statistics,
    summary_drift,
)
from cpxm.db import bulk_insert, reserve_ids
from cpxm.interactions.models import Interaction
from tests.factories import make_interaction, make_stakeholder, make_taxonomy


def _counted_from_rows(session: Session) -> Counter[tuple[str, str, str]]:
    """Interactions per month, channel and department, counted here from the rows."""
    rows = session.execute(
        select(Interaction.occurred_at, Interaction.channel_code, Interaction.department_code)
    ).all()
    return Counter((row[0].strftime("%Y-%m"), row[1], row[2]) for row in rows)


def _from_overview(session: Session) -> Counter[tuple[str, str, str]]:
    return Counter(
        {(r.month, r.channel, r.department): r.interactions for r in monthly_interactions(session)}
    )


def test_summary_follows_inserts_bulk_loads_updates_and_deletes(session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    first = make_interaction(session, stakeholder=hcp, occurred_at=datetime(2025, 1, 31, 23, 59))
    make_interaction(session, stakeholder=hcp, occurred_at=datetime(2025, 1, 31, 8, 0))
    gone = make_interaction(
        session, stakeholder=hcp, occurred_at=datetime(2025, 2, 1), channel_code="phone"
    )
    table = Interaction.__table__
    columns = ["stakeholder_id", "occurred_at", "channel_code", "department_code",
               "interaction_type", "direction"]  # fmt: skip
    bulk_insert(  # COPY on PostgreSQL: the statement-level trigger sees every row at once
        session.connection(),
        table,  # type: ignore[arg-type]
        [
            (hcp.id, datetime(2025, 3, day, 10), "email", "medical_affairs", "visit", "outbound")
            for day in range(1, 29)
        ],
        columns,
    )
    assert _from_overview(session) == _counted_from_rows(session)

    session.execute(  # moves one interaction to another month, channel and department
        update(Interaction)
        .where(Interaction.id == first.id)
        .values(
            occurred_at=datetime(2025, 2, 1, 0, 0),
            channel_code="phone",
            department_code="patient_services",
        )
    )
    session.execute(delete(Interaction).where(Interaction.id == gone.id))
    session.execute(  # and a bulk update of many rows in one statement
        update(Interaction)
        .where(Interaction.department_code == "medical_affairs")
        .values(channel_code="face_to_face")
    )
    session.flush()

    counted = _counted_from_rows(session)
    assert _from_overview(session) == counted
    assert counted == Counter({
        ("2025-01", "email", "sales"): 1,
        ("2025-02", "phone", "patient_services"): 1,
        ("2025-03", "face_to_face", "medical_affairs"): 28,
    })  # fmt: skip
    assert summary_drift(session).drifted_groups == 0


def _triggers(session: Session) -> list[str]:
    if session.get_bind().dialect.name != "sqlite":
        return []
    return sorted(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))


def test_a_bulk_insert_counted_at_once_keeps_the_summary_and_the_trigger(
    session: Session,
) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    make_interaction(session, stakeholder=hcp, occurred_at=datetime(2025, 3, 1, 9))
    triggers = _triggers(session)
    table = Interaction.__table__
    columns = ["id", "stakeholder_id", "occurred_at", "channel_code", "department_code",
               "interaction_type", "direction"]  # fmt: skip
    days = [1, 1, 2, 2, 2, 31]  # the 1st joins the group counted by the trigger above
    ids = reserve_ids(session, table, len(days))  # type: ignore[arg-type]
    with counted_after_insert(session.connection(), first_id=ids[0]):
        bulk_insert(
            session.connection(),
            table,  # type: ignore[arg-type]
            [
                (id_, hcp.id, datetime(2025, 3, day, 10), "email", "sales", "visit", "outbound")
                for id_, day in zip(ids, days, strict=True)
            ],
            columns,
        )
    assert _triggers(session) == triggers
    assert summary_drift(session).drifted_groups == 0
    assert _from_overview(session) == Counter({("2025-03", "email", "sales"): 7})

    # A failed insert leaves the trigger in place, and later single inserts are counted by it.
    with pytest.raises(RuntimeError), counted_after_insert(session.connection(), first_id=10**9):
        raise RuntimeError("the insert failed")
    assert _triggers(session) == triggers
    make_interaction(session, stakeholder=hcp, occurred_at=datetime(2025, 4, 1, 9))
    assert summary_drift(session).drifted_groups == 0


def test_rebuild_recounts_a_summary_that_drifted(session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    for day in (1, 2, 2):
        make_interaction(session, stakeholder=hcp, occurred_at=datetime(2025, 4, day, 9))
    session.execute(update(InteractionDailyCount).values(interactions=99))
    session.flush()

    drifted = summary_drift(session)
    groups = rebuild_summaries(session)
    after = summary_drift(session)

    assert drifted.interactions == 3 and drifted.summarised == 198 and drifted.drifted_groups == 2
    assert groups == 2
    assert after.summarised == 3 and after.drifted_groups == 0
    assert _from_overview(session) == Counter({("2025-04", "email", "sales"): 3})


def test_planner_statistics_are_gathered(session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    for day in range(1, 11):
        make_interaction(session, stakeholder=hcp, occurred_at=datetime(2025, 5, day, 9))

    refresh_planner_statistics(session)

    if session.get_bind().dialect.name == "sqlite":
        analysed = session.execute(text("SELECT tbl FROM sqlite_stat1")).scalars().all()
    else:
        analysed = (
            session.execute(
                text("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
            )
            .scalars()
            .all()
        )
    assert "interactions" in analysed
