"""The summaries the store keeps for analytics: check them and rebuild them from the facts.

The triggers (migration 0009) keep ``interaction_daily_counts`` exact in every writer's
transaction. A rebuild is for a store restored without them, or rows written while they were
disabled (say a bulk load that dropped triggers for speed); ``summary_drift`` tells whether one
is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Subquery, delete, func, insert, select, text
from sqlalchemy.orm import Session

from cpxm.analytics.models import InteractionDailyCount
from cpxm.interactions.models import Interaction


@dataclass(frozen=True)
class SummaryCheck:
    interactions: int  # rows in interactions
    summarised: int  # the summary's total
    drifted_groups: int  # (day, channel, department) groups whose count differs


def _day(session: Session) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "sqlite":
        # DATETIME is ISO text on SQLite; the first ten characters are the day, as the trigger.
        return func.substr(Interaction.occurred_at, 1, 10)
    return func.date(Interaction.occurred_at)


def _actual(session: Session) -> Subquery:
    day = _day(session)
    return (
        select(
            day.label("day"),
            Interaction.channel_code,
            Interaction.department_code,
            func.count().label("interactions"),
        )
        .group_by(day, Interaction.channel_code, Interaction.department_code)
        .subquery()
    )


def summary_drift(session: Session) -> SummaryCheck:
    """Compare ``interaction_daily_counts`` with a fresh count of ``interactions``."""
    actual = {
        (str(row[0])[:10], row[1], row[2]): int(row[3])
        for row in session.execute(select(_actual(session)))
    }
    kept = {
        (str(row.day)[:10], row.channel_code, row.department_code): row.interactions
        for row in session.scalars(select(InteractionDailyCount))
    }
    drifted = sum(
        1 for key in actual.keys() | kept.keys() if actual.get(key, 0) != kept.get(key, 0)
    )
    return SummaryCheck(sum(actual.values()), sum(kept.values()), drifted)


def rebuild_summaries(session: Session) -> int:
    """Recount ``interaction_daily_counts`` from ``interactions``; returns the groups written.

    Runs in the caller's transaction: readers see the old counts until it commits.
    """
    session.execute(delete(InteractionDailyCount))
    session.execute(
        insert(InteractionDailyCount).from_select(
            ["day", "channel_code", "department_code", "interactions"], select(_actual(session))
        )
    )
    session.flush()
    return session.scalar(select(func.count()).select_from(InteractionDailyCount)) or 0


_SQLITE_INSERT_TRIGGER = "interaction_daily_counts_insert"
# The rows inserted since ``first_id`` counted per group at once, as the trigger counts each.
_SQLITE_COUNT_INSERTED = """
    INSERT INTO interaction_daily_counts (day, channel_code, department_code, interactions)
    SELECT substr(occurred_at, 1, 10), channel_code, department_code, count(*)
    FROM interactions WHERE id >= ? GROUP BY 1, 2, 3
    ON CONFLICT (day, channel_code, department_code)
    DO UPDATE SET interactions = interactions + excluded.interactions
"""


@contextmanager
def counted_after_insert(connection: Connection, *, first_id: int) -> Iterator[None]:
    """Count the interactions inserted inside, with ids from ``first_id`` up, in one statement.

    For a bulk insert of rows whose ids were reserved above every existing one (``reserve_ids``
    on SQLite, which holds the write lock). SQLite's per-row trigger upserts a summary row for
    each insert, a fifth of inserting 300,000 call reports (0.8 s of 4.1 s); here it is dropped
    for the insert and created again from its own stored text, and one grouped upsert counts
    what went in. All of it is in the caller's transaction, DDL included: other connections
    never see the store without the trigger, and a rollback (or a killed process) restores it.
    PostgreSQL keeps its trigger: dropping one there locks the table against every reader.
    """
    trigger = None
    if connection.dialect.name == "sqlite":
        trigger = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            (_SQLITE_INSERT_TRIGGER,),
        ).scalar()
    if trigger is None:
        yield
        return
    connection.exec_driver_sql(f"DROP TRIGGER {_SQLITE_INSERT_TRIGGER}")
    try:
        yield
        connection.exec_driver_sql(_SQLITE_COUNT_INSERTED, (first_id,))
    finally:
        connection.exec_driver_sql(trigger)


def refresh_planner_statistics(session: Session) -> None:
    """Gather the table statistics the query planner chooses join orders by (``ANALYZE``).

    PostgreSQL's autovacuum does this by itself; SQLite never does, and without statistics it
    scans every answer to find a question's few. Run after bulk loads:
    the demo, large imports, ``cpxm analytics rebuild``.
    """
    session.execute(text("ANALYZE"))
