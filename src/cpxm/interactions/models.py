"""Interactions: every touchpoint between the company and a stakeholder."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base

DIRECTIONS = ("inbound", "outbound")


class Interaction(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        CheckConstraint("direction IN ('inbound', 'outbound')", name="direction"),
        # Both carry the employee, direction and department, so the EX-CX page's counts per
        # team (contacts, ping-pong weeks, last contact before an answer) stay in the index.
        Index(
            "ix_interactions_stakeholder_occurred_employee",
            "stakeholder_id",
            "occurred_at",
            "employee_id",
            "direction",
            "department_code",
        ),
        Index(
            "ix_interactions_occurred_employee",
            "occurred_at",
            "employee_id",
            "stakeholder_id",
            "direction",
            "department_code",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stakeholder_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    channel_code: Mapped[str] = mapped_column(ForeignKey("channels.code"))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    interaction_type: Mapped[str] = mapped_column(String(60))
    direction: Mapped[str] = mapped_column(String(10))
    product_code: Mapped[str | None] = mapped_column(ForeignKey("products.code"))
    therapeutic_area_code: Mapped[str | None] = mapped_column(ForeignKey("therapeutic_areas.code"))
    lifecycle_phase_code: Mapped[str | None] = mapped_column(ForeignKey("lifecycle_phases.code"))
    journey_stage_id: Mapped[int | None] = mapped_column(ForeignKey("journey_stages.id"))
    # The employee (a stakeholder of type "employee") who made the contact, if a person did.
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id"))
    outcome: Mapped[str | None] = mapped_column(String(120))
    notes: Mapped[str | None] = mapped_column(Text)
    source_record_id: Mapped[int | None] = mapped_column(ForeignKey("source_records.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
