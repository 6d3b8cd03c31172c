"""JSON routes for feedback: record it (analysed by a job after commit), list and read it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from cpxm.access import AGGREGATES, CommercialReader, person_filter, requires, shield_feedback
from cpxm.access.confidential import hidden_survey_ids, refuse_records, survey_of_response
from cpxm.deps import DbSession
from cpxm.feedback import service
from cpxm.feedback.schemas import FeedbackIn, FeedbackOut, ThemeSummaryOut, feedback_out
from cpxm.pagination import Page, Pagination

router = APIRouter(prefix="/feedback", tags=["feedback"])


@router.post("", status_code=201)
def create_feedback(
    body: FeedbackIn,
    session: DbSession,
    principal: CommercialReader,
) -> FeedbackOut:
    """Record feedback; its commit queues the analysis and safety screening (a job)."""
    item = service.create_feedback(
        session,
        source_kind=body.source_kind,
        text=body.text,
        received_at=body.received_at,
        stakeholder_id=body.stakeholder_id,
        channel_code=body.channel_code,
        language=body.language,
    )
    return shield_feedback(session, principal, [feedback_out(item, None)], via="feedback api")[0]


@router.get("")
def list_feedback(
    session: DbSession,
    principal: CommercialReader,
    page: Pagination,
    source_kind: str | None = None,
    sentiment: Annotated[str | None, Query(pattern="^(positive|neutral|negative)$")] = None,
    theme: str | None = None,
    safety_kind: Annotated[str | None, Query(pattern="^(ae|pc|srs)$")] = None,
    stakeholder_id: int | None = None,
    analysis_status: Annotated[str | None, Query(pattern="^(pending|done|failed)$")] = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
) -> Page[FeedbackOut]:
    rows, total = service.list_feedback(
        session,
        feedback_filter=service.FeedbackFilter(
            source_kind=source_kind,
            sentiment=sentiment,
            theme=theme,
            safety_kind=safety_kind,
            stakeholder_id=person_filter(session, principal, stakeholder_id),
            analysis_status=analysis_status,
            received_from=received_from,
            received_to=received_to,
            hidden_survey_ids=tuple(hidden_survey_ids(session, principal)),
        ),
        limit=page.limit,
        offset=page.offset,
    )
    items = shield_feedback(
        session,
        principal,
        [feedback_out(item, analysis) for item, analysis in rows],
        via="feedback api",
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/themes", dependencies=[requires(AGGREGATES)])
def theme_summary(session: DbSession) -> list[ThemeSummaryOut]:
    """Items and negative items per theme: figures, no record-level text."""
    return [
        ThemeSummaryOut(theme=code, label=label, items=items, negative=negative)
        for code, label, items, negative in service.theme_summary(session)
    ]


@router.get("/{feedback_id}")
def get_feedback(session: DbSession, principal: CommercialReader, feedback_id: int) -> FeedbackOut:
    item, analysis = service.get_feedback(session, feedback_id)
    if item.response_id is not None:
        # A confidential survey's comment is no record to anyone outside the people team.
        survey = survey_of_response(session, item.response_id)
        if survey is not None:
            refuse_records(session, principal, survey, what="comments")
    return shield_feedback(session, principal, [feedback_out(item, analysis)], via="feedback api")[
        0
    ]
