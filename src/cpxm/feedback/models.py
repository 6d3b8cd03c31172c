"""Feedback items: every free text from any source, in one stream."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base

FEEDBACK_SOURCES = (
    "survey_comment",
    "call_note",
    "medical_inquiry",
    "call_centre_log",
    "web_form",
    "social_post",
    "email",
)


class FeedbackItem(Base):
    __tablename__ = "feedback_items"
    __table_args__ = (Index("ix_feedback_items_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    stakeholder_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channels.code"))
    language: Mapped[str | None] = mapped_column(String(8))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"))
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id"))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"))
    analysis_status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
