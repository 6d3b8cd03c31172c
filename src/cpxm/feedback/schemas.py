"""Feedback as the API shows it, and the one function that decides how much of it a role sees."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cpxm.access import Principal
from cpxm.access.roles import Domain
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
    received_at: UtcDateTime
    channel_code: str | None
    language: str | None
    analysis_status: str
    # What every role with access sees: personal data replaced by [EMAIL], [PHONE], ...
    redacted_text: str | None
    # The original words: only for roles that may see patient-identifiable data.
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
    theme: str
    label: str
    items: int
    negative: int


def feedback_out(
    principal: Principal, item: FeedbackItem, analysis: FeedbackAnalysis | None
) -> FeedbackOut:
    """The item as ``principal`` may see it: medical inquiries only behind the firewall, the
    original text only with the patient-identifiable domain, the redacted text otherwise."""
    withheld = None
    redacted = analysis.redacted_text if analysis else None
    original: str | None = item.text
    if item.source_kind == "medical_inquiry" and not principal.can_see(Domain.MEDICAL):
        withheld = "medical-inquiry content is for medical roles only"
        redacted = original = None
    elif not principal.can_see(Domain.PATIENT_IDENTIFIABLE):
        withheld = "original text withheld: it may hold personal data; see redacted_text"
        original = None
    mentions = analysis.safety_mentions if analysis and analysis.safety_mentions else []
    if withheld and item.source_kind == "medical_inquiry":
        mentions = []
    elif original is None:
        # A mention's sentence is the writer's own words: show it redacted-free only with text.
        mentions = [{key: value for key, value in m.items() if key != "sentence"} for m in mentions]
    return FeedbackOut(
        id=item.id,
        source_kind=item.source_kind,
        stakeholder_id=item.stakeholder_id,
        received_at=item.received_at,
        channel_code=item.channel_code,
        language=(analysis.language if analysis else None) or item.language,
        analysis_status=item.analysis_status,
        redacted_text=redacted,
        text=original,
        text_withheld=withheld,
        sentiment_label=analysis.sentiment_label if analysis else None,
        sentiment_score=analysis.sentiment_score if analysis else None,
        themes=(analysis.themes or []) if analysis else [],
        pii_kinds=(analysis.pii_kinds or []) if analysis else [],
        safety_kinds=(analysis.safety_kinds or []) if analysis else [],
        safety_contexts=(analysis.safety_contexts or []) if analysis else [],
        safety_mentions=mentions,
    )
