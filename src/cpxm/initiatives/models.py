"""Initiatives: what the CX team means to fix, linked to the evidence that says why."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base

STATUSES = ("proposed", "planned", "in_progress", "shipped", "dropped")
MOSCOW = ("must", "should", "could", "wont")
IMPACT_SOURCES = ("manual", "kpi_model")
TARGET_METRICS = ("nps", "csat", "ces")
# RICE's impact scale (Intercom): massive, high, medium, low, minimal.
IMPACT_SCALE = (3.0, 2.0, 1.0, 0.5, 0.25)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Initiative(Base):
    __tablename__ = "initiatives"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(STATUSES)})", name="status"),
        CheckConstraint(f"moscow IN ({_in(MOSCOW)})", name="moscow"),
        CheckConstraint(f"impact_source IN ({_in(IMPACT_SOURCES)})", name="impact_source"),
        CheckConstraint(f"target_metric IN ({_in(TARGET_METRICS)})", name="target_metric"),
        CheckConstraint("confidence >= 0 AND confidence <= 100", name="confidence"),
        CheckConstraint("effort > 0", name="effort"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    moscow: Mapped[str] = mapped_column(String(10), default="should")
    # Scope: whose problem it is (NULL: everyone). The therapeutic area is the stakeholders'
    # stated interest, so relationship surveys count too.
    therapeutic_area_code: Mapped[str | None] = mapped_column(ForeignKey("therapeutic_areas.code"))
    stakeholder_type: Mapped[str | None] = mapped_column(String(40))
    # Evidence: a key driver (question code of the survey), a feedback theme, a journey stage,
    # the Kano questions about the fix, a KPI for the impact model.
    survey_code: Mapped[str | None] = mapped_column(String(80))
    driver_code: Mapped[str | None] = mapped_column(String(80))
    theme_code: Mapped[str | None] = mapped_column(String(60))
    journey_code: Mapped[str | None] = mapped_column(String(60))
    stage_code: Mapped[str | None] = mapped_column(String(60))
    kano_survey_code: Mapped[str | None] = mapped_column(String(80))
    kano_questions: Mapped[list[str] | None] = mapped_column()
    kpi: Mapped[str | None] = mapped_column(String(80))
    # RICE: reach is computed from the data; impact is the team's or the KPI model's.
    impact: Mapped[float] = mapped_column(Float, default=1.0)
    impact_source: Mapped[str] = mapped_column(String(20), default="manual")
    confidence: Mapped[float] = mapped_column(Float, default=80.0)  # percent
    effort: Mapped[float] = mapped_column(Float, default=1.0)  # person-months
    # Before/after: the metric the fix should move, in the days either side of shipping.
    target_metric: Mapped[str] = mapped_column(String(10), default="nps")
    window_days: Mapped[int] = mapped_column(Integer, default=90)
    shipped_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), onupdate=func.now()
    )
