"""Feedback as the API shows it; what of it a role sees is decided by ``cpxm.access``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.timeutil import UtcDateTime


class FeedbackIn(BaseModel):
    source_kind: str = Field(description="survey_comment, call_note, medical_inquiry, ...")
    text: str = Field(min_length=1, max_length=100_000)
    stakeholder_id: int | None = None
    received_at: datetime | None = Field(None, description="Default: now.")
    channel_code: str | None = None
    language: str | None = Field(None, max_length=8)


class FeedbackOut(BaseModel):
    id: int
    source_kind: str
    stakeholder_id: int | None
    stakeholder_key: str | None = None
    received_at: UtcDateTime
    channel_code: str | None
    language: str | None
    analysis_status: str
    # Personal data replaced by [EMAIL], [PHONE], ...; withheld like ``text`` from roles that may
    # not read words of its provenance (a patient's, a medical department's, a safety report).
    redacted_text: str | None
    text: str | None
    text_withheld: str | None = Field(
        None, description="Why text (or all of it) is withheld from this role, if it is."
    )
    sentiment_label: str | None = None
    sentiment_score: float | None = None
    themes: list[str] = []
    pii_kinds: list[str] = []
    safety_kinds: list[str] = []
    safety_contexts: list[str] = []
    safety_mentions: list[dict[str, Any]] = []


class ThemeSummaryOut(BaseModel):
    """Counts under the workspace's minimum cell size are ``null`` (suppressed)."""

    theme: str
    label: str
    items: int | None
    negative: int | None


def feedback_out(item: FeedbackItem, analysis: FeedbackAnalysis | None) -> FeedbackOut:
    """The whole item; ``cpxm.access.shield_feedback`` decides what of it a role sees."""
    mentions = analysis.safety_mentions if analysis and analysis.safety_mentions else []
    redacted = analysis.redacted_text if analysis else None
    return FeedbackOut(
        id=item.id,
        source_kind=item.source_kind,
        stakeholder_id=item.stakeholder_id,
        received_at=item.received_at,
        channel_code=item.channel_code,
        language=(analysis.language if analysis else None) or item.language,
        analysis_status=item.analysis_status,
        redacted_text=redacted,
        text=item.text,
        sentiment_label=analysis.sentiment_label if analysis else None,
        sentiment_score=analysis.sentiment_score if analysis else None,
        themes=(analysis.themes or []) if analysis else [],
        pii_kinds=(analysis.pii_kinds or []) if analysis else [],
        safety_kinds=(analysis.safety_kinds or []) if analysis else [],
        safety_contexts=(analysis.safety_contexts or []) if analysis else [],
        safety_mentions=mentions,
    )
