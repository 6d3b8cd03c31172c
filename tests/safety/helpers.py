"""Shared builders for feedback and safety tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cpxm.feedback import writer
from cpxm.feedback.models import FeedbackItem


def make_feedback(
    session: Session,
    text: str,
    *,
    source_kind: str = "survey_comment",
    stakeholder_id: int | None = None,
    received_at: datetime = datetime(2026, 11, 23, 10, 0),
    response_id: int | None = None,
) -> FeedbackItem:
    return writer.add_item(
        session,
        source_kind=source_kind,
        text=text,
        received_at=received_at,
        stakeholder_id=stakeholder_id,
        response_id=response_id,
    )
