"""Cases in the closed loop, the trail of what happened to each, and the scanner's watermarks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # detractor, low_score, negative_feedback, complaint, medical_inquiry, safety, manual
    case_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # open, in_progress, closed
    priority: Mapped[str] = mapped_column(String(10))  # low, normal, high, urgent
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    stakeholder_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"))
    feedback_item_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_items.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolution_code: Mapped[str | None] = mapped_column(String(60))
    # What opened it, e.g. "response:12:nps" or "feedback:40:complaint": opening is idempotent.
    source_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    # The routing scope the RACI matrix was asked about.
    activity: Mapped[str] = mapped_column(
        String(40), default="detractor_followup", server_default="detractor_followup"
    )
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"))
    therapeutic_area_code: Mapped[str | None] = mapped_column(ForeignKey("therapeutic_areas.code"))
    accountable_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accountable_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    sla_business_hours: Mapped[int | None] = mapped_column(Integer)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # Service recovery: a one-question re-survey after closure ("Did we resolve this well?").
    recovery_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    recovery_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    recovery_score: Mapped[float | None] = mapped_column(Float)
    recovery_answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The re-survey is an invitation of the survey distribution (consent and fatigue rules apply);
    # when the rules hold it back, why. Cases closed before held a /r/ token instead.
    recovery_invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id"), index=True
    )
    recovery_held_reason: Mapped[str | None] = mapped_column(Text)


class CaseEvent(Base):
    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    event_type: Mapped[str] = mapped_column(String(40))  # opened, assigned, comment, escalated, ...
    details: Mapped[dict[str, Any] | None] = mapped_column()


class CaseScanWatermark(Base):
    """How far the case scanner has read each source, so a scan only looks at what is new."""

    __tablename__ = "case_scan_watermarks"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Where the next scan starts, a keyset position: sources analysed out of id order are read by
    # (last_seen_at, last_id). Everything before it is settled: no transaction can still add there.
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    scanned_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The furthest position a scan reached, and when; it becomes the start once the look-back
    # window has passed, so a row committed late below it (a lower id) is still read.
    checkpoint_id: Mapped[int | None] = mapped_column(Integer)
    checkpoint_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    checkpoint_at: Mapped[datetime | None] = mapped_column(DateTime)
