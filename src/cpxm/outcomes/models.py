"""Business outcomes (prescriptions, orders, retention, enrolment, adherence) imported from the
systems that own them, so experience can be linked to what it moves."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class KpiValue(Base):
    """One value of one KPI for one period, for a stakeholder, product or country (or all)."""

    __tablename__ = "kpi_values"
    __table_args__ = (
        Index("ix_kpi_values_kpi_stakeholder_period", "kpi", "stakeholder_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi: Mapped[str] = mapped_column(String(60))  # e.g. prescriptions, orders, adherence_rate
    stakeholder_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id"))
    product_code: Mapped[str | None] = mapped_column(ForeignKey("products.code"))
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(30))
    source_system: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
