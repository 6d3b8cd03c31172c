"""Feedback items: every free text from any source, in one stream, with its analysis.

The analysis columns are the interface other domains read (closed-loop rules, dashboards):

- ``feedback_items.analysis_status``: ``pending`` until analysed, then ``done`` (or ``failed``,
  with the reason in ``feedback_analyses.error``). A periodic job sweeps pending items.

The rest live in ``feedback_analyses`` (one row per analysed item):

- ``sentiment_label`` (positive / neutral / negative) and ``sentiment_score`` (-1 .. 1).
- ``themes``: theme codes from the taxonomy (also one row per theme in ``feedback_themes``, for
  queries such as "negative feedback on supply_availability").
- ``redacted_text``: the text with personal data replaced by ``[EMAIL]``, ``[PHONE]``, ...; what
  every role sees. ``pii_kinds`` lists the kinds found.
- ``safety_kinds``: reportable safety kinds found (``ae``, ``pc``, ``srs``); empty when none.
  ``safety_contexts`` lists every situation seen, reportable or not (``negated``,
  ``hypothetical``, ``historical``, ``other_person``, ``affirmed``); ``safety_mentions`` keeps each
  mention (kind, subtype, words, context, product) so nothing is silently dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, String, Text, func
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
ANALYSIS_STATUSES = ("pending", "done", "failed")


class FeedbackItem(Base):
    __tablename__ = "feedback_items"
    __table_args__ = (
        Index("ix_feedback_items_received_at", "received_at"),
        Index("ix_feedback_items_analysis_status", "analysis_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    stakeholder_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channels.code"))
    language: Mapped[str | None] = mapped_column(String(8))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"))
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id"))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"), index=True)
    analysis_status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class FeedbackAnalysis(Base):
    """The analysis of one feedback item (one row per analysed item; see the module docstring).

    A table of its own rather than columns on ``feedback_items``, so bulk loaders that write
    feedback rows (imports, the demo) need not know about analysis at all.
    """

    __tablename__ = "feedback_analyses"

    feedback_item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str | None] = mapped_column(String(8))
    sentiment_label: Mapped[str | None] = mapped_column(String(10), index=True)
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    themes: Mapped[list[str] | None] = mapped_column(JSON)
    redacted_text: Mapped[str | None] = mapped_column(Text)
    pii_kinds: Mapped[list[str] | None] = mapped_column(JSON)
    safety_kinds: Mapped[list[str] | None] = mapped_column(JSON)
    safety_contexts: Mapped[list[str] | None] = mapped_column(JSON)
    safety_mentions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    analysed_at: Mapped[datetime] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)


class FeedbackTheme(Base):
    """One row per (feedback item, theme): the themes of ``FeedbackItem.themes``, queryable."""

    __tablename__ = "feedback_themes"
    __table_args__ = (Index("ix_feedback_themes_theme_code", "theme_code"),)

    feedback_item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE"), primary_key=True
    )
    theme_code: Mapped[str] = mapped_column(String(60), primary_key=True)
