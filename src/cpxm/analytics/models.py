"""Summaries the store keeps up to date for analytics, so a page reads thousands of rows.

``interaction_daily_counts`` holds the number of interactions per day, channel and department.
Database triggers on ``interactions`` (created by the migration, for SQLite and PostgreSQL) add
and subtract on every insert, update and delete, in the writer's own transaction, so the counts
are exact whatever path wrote the rows (ORM, bulk COPY, imports, the demo). ``cpxm analytics
rebuild`` recomputes them from scratch (see ``cpxm.analytics.summaries``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class InteractionDailyCount(Base):
    """Interactions that occurred on one day (UTC) through one channel from one department."""

    __tablename__ = "interaction_daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    interactions: Mapped[int] = mapped_column(Integer)


ENABLERS = ("tools", "training", "coordination", "workload")


class TeamAction(Base):
    """A team lead's action against a low pulse enabler, with its owner and due date; the
    enabler's mean at the wave it was planned on is kept, so the next wave shows the move."""

    __tablename__ = "team_actions"
    __table_args__ = (CheckConstraint("status IN ('open', 'done')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    enabler: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    baseline_wave: Mapped[str | None] = mapped_column(String(20))
    baseline_mean: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class AnalyticsChangeCounter(Base):
    """SQLite: one row counting updates and deletes of the tables reports read (triggers of
    migration 0032), so every process's report cache sees an edit at once, not after its
    maximum age. Inserts need no count: the highest ids show them, and SQLite has one writer."""

    __tablename__ = "analytics_change_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class AnalyticsChange(Base):
    """PostgreSQL: one row per statement that changed a table reports read (statement-level
    triggers of migration 0032). A log and not a counter: a counter row would make every writer
    wait for the longest open transaction that touched it. Rows become visible when their
    transaction commits, so a report cache never keys old figures under a new marker; the
    hourly job prunes the log (:mod:`cpxm.analytics.jobs`)."""

    __tablename__ = "analytics_changes"

    # BIGINT on PostgreSQL; SQLite numbers rows only in an INTEGER PRIMARY KEY.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(63))
    changed_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ResponseTouchSummary(Base):
    """For one complete response with earlier interactions: the touches before it began, as the
    journeys page's peak-end model reads them (``cpxm.analytics.touch_summaries``). The quality
    of the last touch (the mean when several share its instant) and, over the 30 days before,
    the sum and count of the touches' quality and whether the last one is among them."""

    __tablename__ = "response_touch_summaries"

    response_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # NUMERIC on PostgreSQL, as the mean the page computes from the facts is: its ROUND then
    # rounds halves away from zero as theirs does (a double's rounds them to even).
    last_quality: Mapped[float] = mapped_column(Float().with_variant(Numeric(), "postgresql"))
    window_sum: Mapped[int] = mapped_column(Integer)
    window_count: Mapped[int] = mapped_column(Integer)
    last_in_window: Mapped[int] = mapped_column(Integer)


class ResponseExposure(Base):
    """The departments and channels the respondent met in the 30 days before answering, as
    ``,department:<code>,channel:<code>,`` (each once, in no order): the drivers page's
    touchpoints (``cpxm.analytics.touch_summaries``). One row per response with any, so the page
    joins one row per response instead of pivoting one row per touchpoint."""

    __tablename__ = "response_exposures"

    response_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    touchpoints: Mapped[str] = mapped_column(Text)


class SummaryStamp(Base):
    """Which facts a kept summary describes: the data fingerprint
    (:func:`cpxm.analytics.service.data_fingerprint`) it was built from, as JSON. A page reads
    the summary only while the store's fingerprint is the same; otherwise it computes from the
    facts. One row per summary, written by that summary's one writer."""

    __tablename__ = "summary_stamps"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    built_from: Mapped[str] = mapped_column(Text)
    built_at: Mapped[datetime] = mapped_column(DateTime)
    seconds: Mapped[float] = mapped_column(Float)  # how long the build took


class CoordinationCell(Base):
    """Outbound contacts summed per stakeholder type and country: the coordination page's
    figures for any grain and those two filters, without a pass over every contact.

    ``measure`` is ``department`` or ``channel`` (``key`` its code), ``bucket`` (``key`` a
    contacts-per-stakeholder-period bucket of the distribution), ``contacted`` (every outbound
    contact) or ``episodes`` (ping-pong episode starts, for the default N and D). Rows of a
    ``grain`` hold one ``period``: ``contacts`` (episode starts for ``episodes``) and
    ``stakeholder_periods`` (pairs of a stakeholder and the period with a contact). Rows of grain
    ``all`` (no period) hold ``stakeholders``: the distinct stakeholders over all time, which
    periods cannot sum."""

    __tablename__ = "coordination_cells"
    __table_args__ = (Index("ix_coordination_cells_grain", "grain", "measure"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grain: Mapped[str] = mapped_column(String(10))
    period: Mapped[date | None] = mapped_column(Date)
    stakeholder_type: Mapped[str] = mapped_column(String(40))
    country_code: Mapped[str | None] = mapped_column(String(2))
    measure: Mapped[str] = mapped_column(String(20))
    key: Mapped[str | None] = mapped_column(String(40))
    contacts: Mapped[int] = mapped_column(BigInteger, default=0)
    stakeholder_periods: Mapped[int] = mapped_column(BigInteger, default=0)
    stakeholders: Mapped[int] = mapped_column(BigInteger, default=0)


class CoordinationEffectCell(Base):
    """Moments of customer NPS answers per respondent type and country, split by whether the
    respondent was in a ping-pong episode (the default N and D) before answering."""

    __tablename__ = "coordination_effect_cells"

    id: Mapped[int] = mapped_column(primary_key=True)
    stakeholder_type: Mapped[str] = mapped_column(String(40))
    country_code: Mapped[str | None] = mapped_column(String(2))
    exposed: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[float] = mapped_column(Float)
    total_squares: Mapped[float] = mapped_column(Float)
    promoters: Mapped[int] = mapped_column(BigInteger)
    detractors: Mapped[int] = mapped_column(BigInteger)


class ExTeamContacts(Base):
    """The customers one team served in one wave's period of a confidential pulse: its
    contacts, the distinct customers and the ping-pong episodes it was part of (the EX-CX page's
    customer side, :mod:`cpxm.analytics.ex_summary`). ``team_id`` is empty for the unassigned."""

    __tablename__ = "ex_team_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(Integer)
    wave: Mapped[str] = mapped_column(String(80))
    team_id: Mapped[int | None] = mapped_column(Integer)
    contacts: Mapped[int] = mapped_column(BigInteger)
    customers: Mapped[int] = mapped_column(BigInteger)
    ping_pong_episodes: Mapped[int] = mapped_column(BigInteger)


class ExTeamScores(Base):
    """Moments of the customer scores one team's contacts were followed by in one wave's period:
    ``nps`` (relationship answers whose last employee contact, in the default attribution days,
    was the team's), ``csat`` and ``ces`` (after-contact surveys its contacts triggered)."""

    __tablename__ = "ex_team_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(Integer)
    wave: Mapped[str] = mapped_column(String(80))
    team_id: Mapped[int | None] = mapped_column(Integer)
    measure: Mapped[str] = mapped_column(String(10))
    n: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[float] = mapped_column(Float)
    total_squares: Mapped[float] = mapped_column(Float)
    promoters: Mapped[int] = mapped_column(BigInteger)
    detractors: Mapped[int] = mapped_column(BigInteger)
