"""The feedback page: one stream with sentiment, themes and safety flags, as a role may see it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cpxm.access import CommercialReader, shield_feedback
from cpxm.access.confidential import hidden_survey_ids
from cpxm.deps import DbSession
from cpxm.feedback import service
from cpxm.feedback.models import FEEDBACK_SOURCES
from cpxm.feedback.schemas import feedback_out
from cpxm.text.themes import theme_labels
from cpxm.web.templating import templates

router = APIRouter(prefix="/feedback", include_in_schema=False)
PAGE_SIZE = 100


@router.get("", response_class=HTMLResponse)
def feedback_page(
    request: Request,
    session: DbSession,
    principal: CommercialReader,
    source_kind: str = "",
    sentiment: str = "",
    theme: str = "",
    safety_kind: str = "",
    offset: int = 0,
) -> Response:
    rows, total = service.list_feedback(
        session,
        feedback_filter=service.FeedbackFilter(
            source_kind=source_kind or None,
            sentiment=sentiment or None,
            theme=theme or None,
            safety_kind=safety_kind or None,
            hidden_survey_ids=tuple(hidden_survey_ids(session, principal)),
        ),
        limit=PAGE_SIZE,
        offset=max(offset, 0),
    )
    items = shield_feedback(
        session,
        principal,
        [feedback_out(item, analysis) for item, analysis in rows],
        via="feedback page",
    )
    return templates.TemplateResponse(
        request,
        "feedback/list.html",
        {
            "items": items,
            "total": total,
            "offset": max(offset, 0),
            "page_size": PAGE_SIZE,
            "filters": {
                "source_kind": source_kind,
                "sentiment": sentiment,
                "theme": theme,
                "safety_kind": safety_kind,
            },
            "sources": FEEDBACK_SOURCES,
            "themes": theme_labels(),
            "summary": service.theme_summary(session),
            "principal": principal,
            "active_nav": "feedback",
        },
    )
