"""Summaries the store keeps up to date for analytics, so a page reads thousands of rows.

``interaction_daily_counts`` holds the number of interactions per day, channel and department.
Database triggers on ``interactions`` (created by the migration, for SQLite and PostgreSQL) add
and subtract on every insert, update and delete, in the writer's own transaction, so the counts
are exact whatever path wrote the rows (ORM, bulk COPY, imports, the demo). ``cpxm analytics
rebuild`` recomputes them from scratch (see ``cpxm.analytics.summaries``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class InteractionDailyCount(Base):
    """Interactions that occurred on one day (UTC) through one channel from one department."""

    __tablename__ = "interaction_daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    interactions: Mapped[int] = mapped_column(Integer)
