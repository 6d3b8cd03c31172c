"""The feedback page: one stream with sentiment, themes and safety flags, as a role may see it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from cpxm.access import (
    CommercialReader,
    Principal,
    readable_feedback_ids,
    shield_feedback,
)
from cpxm.access.confidential import hidden_survey_ids
from cpxm.access.records import shows_identity
from cpxm.deps import DbSession
from cpxm.feedback import service
from cpxm.feedback.models import FEEDBACK_SOURCES
from cpxm.feedback.schemas import FeedbackOut, feedback_out
from cpxm.stakeholders.schemas import StakeholderOut
from cpxm.text.themes import theme_labels
from cpxm.web.lists import (
    CSV_LIMIT,
    Column,
    ListParams,
    csv_of,
    list_params,
    minutes,
    page_context,
    query_string,
)
from cpxm.web.people import people_as_shown
from cpxm.web.templating import templates

router = APIRouter(prefix="/feedback", include_in_schema=False)


@dataclass(frozen=True)
class FeedbackFilters:
    """The list's query string, checked: the page and its CSV read the same one."""

    source_kind: str | None
    sentiment: str | None
    theme: str | None
    safety_kind: str | None
    listing: ListParams

    def query(self) -> str:
        return query_string(
            {
                "q": self.listing.q,
                "source_kind": self.source_kind,
                "sentiment": self.sentiment,
                "theme": self.theme,
                "safety_kind": self.safety_kind,
                "sort": self.listing.sort,
            }
        )


def feedback_filters(
    listing: Annotated[ListParams, list_params(service.FEEDBACK_SORTS, default="newest")],
    source_kind: Annotated[str, Query(max_length=40)] = "",
    sentiment: Annotated[Literal["", "positive", "neutral", "negative"], Query()] = "",
    theme: Annotated[str, Query(max_length=60)] = "",
    safety_kind: Annotated[Literal["", "ae", "pc", "srs"], Query()] = "",
) -> FeedbackFilters:
    return FeedbackFilters(
        source_kind=source_kind or None,
        sentiment=sentiment or None,
        theme=theme or None,
        safety_kind=safety_kind or None,
        listing=listing,
    )


Filters = Annotated[FeedbackFilters, Depends(feedback_filters)]


def _feedback(
    session: DbSession, principal: Principal, filters: FeedbackFilters, *, limit: int, offset: int
) -> tuple[list[FeedbackOut], int]:
    """The items the list shows, as the role may read them. A search looks in the words the role
    reads (the redacted text unless it may see who people are) and only in items whose words it
    may read at all."""
    feedback_filter = service.FeedbackFilter(
        source_kind=filters.source_kind,
        sentiment=filters.sentiment,
        theme=filters.theme,
        safety_kind=filters.safety_kind,
        hidden_survey_ids=tuple(hidden_survey_ids(session, principal)),
        q=filters.listing.q,
        q_in_redacted=not shows_identity(principal),
    )
    if feedback_filter.q:
        matched = service.matching_feedback_ids(session, feedback_filter=feedback_filter)
        feedback_filter = dataclasses.replace(
            feedback_filter, ids=tuple(readable_feedback_ids(session, principal, matched))
        )
    rows, total = service.list_feedback(
        session,
        feedback_filter=feedback_filter,
        limit=limit,
        offset=offset,
        sort=filters.listing.sort,
    )
    items = shield_feedback(
        session,
        principal,
        [feedback_out(item, analysis) for item, analysis in rows],
        via="feedback page",
    )
    return items, total


@router.get("", response_class=HTMLResponse)
def feedback_page(
    request: Request, session: DbSession, principal: CommercialReader, filters: Filters
) -> Response:
    listing = filters.listing
    items, total = _feedback(
        session, principal, filters, limit=listing.page_size, offset=listing.offset
    )
    return templates.TemplateResponse(
        request,
        "feedback/list.html",
        {
            **page_context(
                listing, total=total, query=filters.query(), sorts=service.FEEDBACK_SORTS
            ),
            "items": items,
            "writers": _writers(session, principal, items),
            "filters": filters,
            "sources": FEEDBACK_SOURCES,
            "themes": theme_labels(),
            "summary": service.theme_summary(session),
            "principal": principal,
            "active_nav": "feedback",
        },
    )


def _writers(
    session: DbSession, principal: Principal, items: list[FeedbackOut]
) -> dict[int, StakeholderOut]:
    """Who wrote the items the role may know the writer of, as the role may see them (a name
    linked to the profile), by stakeholder id."""
    return people_as_shown(
        session, principal, (item.stakeholder_id for item in items), purpose="feedback list"
    )


def _words(item: FeedbackOut) -> Any:
    if item.text is not None:
        return item.text
    if item.redacted_text is not None:
        return item.redacted_text
    return item.text_withheld


@router.get("/export.csv")
def feedback_csv(session: DbSession, principal: CommercialReader, filters: Filters) -> Response:
    """Exactly the items the list shows with these filters (every page), as the role reads them."""
    items, _total = _feedback(session, principal, filters, limit=CSV_LIMIT, offset=0)
    labels = theme_labels()
    columns: list[Column[FeedbackOut]] = [
        Column("feedback_id", lambda i: i.id),
        Column("received_at", lambda i: minutes(i.received_at)),
        Column("source_kind", lambda i: i.source_kind),
        Column("stakeholder_id", lambda i: i.stakeholder_id),
        Column("stakeholder_key", lambda i: i.stakeholder_key),
        Column("text", _words),
        Column("sentiment", lambda i: i.sentiment_label),
        Column("sentiment_score", lambda i: i.sentiment_score),
        Column("themes", lambda i: "; ".join(labels.get(c, c) for c in i.themes)),
        Column("safety_kinds", lambda i: ";".join(i.safety_kinds)),
    ]
    return csv_of("feedback.csv", columns, items)
