"""The summaries the store keeps for analytics: check them and rebuild them from the facts.

The triggers (migration 0009) keep ``interaction_daily_counts`` exact in every writer's
transaction. A rebuild is for a store restored without them, or rows written while they were
disabled (say a bulk load that dropped triggers for speed); ``summary_drift`` tells whether one
is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Subquery, delete, func, insert, select, text
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


def refresh_planner_statistics(session: Session) -> None:
    """Gather the table statistics the query planner chooses join orders by (``ANALYZE``).

    PostgreSQL's autovacuum does this by itself; SQLite never does, and without statistics it
    scans every answer to find a question's few. Run after bulk loads:
    the demo, large imports, ``cpxm analytics rebuild``.
    """
    session.execute(text("ANALYZE"))
