"""The review queue page: uncertain pairs side by side, accepted or rejected by a person.

Decisions go through the same service functions as ``cpxm identity accept/reject`` and the
JSON API, so they are audited and undoable the same way: an accepted pair's merge can be undone
from the page, which also keeps the two records apart on later runs.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cpxm.access import DATA_STEWARDSHIP, DataSteward, requires
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.identity import review, service
from cpxm.web.lists import (
    CSV_LIMIT,
    Column,
    ListParams,
    csv_of,
    list_params,
    page_context,
    query_string,
)
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[requires(DATA_STEWARDSHIP)])
PAGE_SIZE = 20


def review_filter(
    listing: Annotated[ListParams, list_params(review.REVIEW_SORTS, default="likely")],
    conflicts: bool = False,
) -> review.ReviewFilter:
    return review.ReviewFilter(q=listing.q, conflicts=conflicts, sort=listing.sort)


Filters = Annotated[review.ReviewFilter, Depends(review_filter)]
Listing = Annotated[ListParams, list_params(review.REVIEW_SORTS, default="likely")]


def _query(filters: review.ReviewFilter) -> str:
    return query_string({"q": filters.q, "conflicts": filters.conflicts, "sort": filters.sort})


@router.get("/identity/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    session: DbSession,
    principal: DataSteward,
    filters: Filters,
    listing: Listing,
    message: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    listing = dataclasses.replace(listing, page_size=PAGE_SIZE)
    items, total = review.review_items(
        session, limit=PAGE_SIZE, offset=listing.offset, review_filter=filters
    )
    return templates.TemplateResponse(
        request,
        "identity/review.html",
        {
            **page_context(listing, total=total, query=_query(filters), sorts=review.REVIEW_SORTS),
            "items": items,
            "filters": filters,
            "decisions": review.recent_decisions(session),
            "message": message,
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "identity",
        },
    )


@router.get("/identity/review/export.csv")
def review_csv(session: DbSession, principal: DataSteward, filters: Filters) -> Response:
    """Exactly the pairs waiting with these filters (every page): both records and the verdicts."""
    items, _total = review.review_items(session, limit=CSV_LIMIT, offset=0, review_filter=filters)
    columns: list[Column[review.ReviewItem]] = [
        Column("pair_id", lambda i: i.pair.id),
        Column("match_probability", lambda i: round(i.pair.match_probability, 4)),
        Column("type_conflict", lambda i: i.pair.type_conflict),
        Column("left_system", lambda i: i.left.source_system),
        Column("left_source_id", lambda i: i.left.source_id),
        Column("right_system", lambda i: i.right.source_system),
        Column("right_source_id", lambda i: i.right.source_id),
        Column("fields_agreeing", lambda i: i.agreeing),
        Column("fields_disagreeing", lambda i: i.disagreeing),
        Column(
            "disagreeing_fields",
            lambda i: "; ".join(f.label for f in i.fields if f.verdict == "disagree"),
        ),
    ]
    return csv_of("identity-review.csv", columns, items)


def _back(offset: int, message: str) -> RedirectResponse:
    return RedirectResponse(
        f"/identity/review?offset={offset}&message={quote(message)}", status_code=303
    )


@router.post("/identity/review/{pair_id}/accept")
def accept_pair(
    session: DbSession, principal: DataSteward, pair_id: int, offset: int = 0
) -> Response:
    try:
        service.decide_pair(session, pair_id=pair_id, accept=True, user_id=principal.user_id)
    except DomainError as error:
        return _back(offset, str(error.detail))
    return _back(offset, f"Pair {pair_id} accepted: the two golden records are merged.")


@router.post("/identity/review/{pair_id}/reject")
def reject_pair(
    session: DbSession, principal: DataSteward, pair_id: int, offset: int = 0
) -> Response:
    try:
        service.decide_pair(session, pair_id=pair_id, accept=False, user_id=principal.user_id)
    except DomainError as error:
        return _back(offset, str(error.detail))
    return _back(offset, f"Pair {pair_id} rejected: later runs keep the two apart.")


@router.post("/identity/merges/{merge_id}/undo")
def undo_merge(session: DbSession, principal: DataSteward, merge_id: int) -> Response:
    try:
        event = service.undo_merge(session, merge_id=merge_id, user_id=principal.user_id)
    except DomainError as error:
        return _back(0, str(error.detail))
    return _back(
        0, f"Merge undone: stakeholder {event.merged_id} is separate from {event.survivor_id}."
    )
