"""The review queue page: uncertain pairs side by side, accepted or rejected by a person.

Decisions go through the same service functions as ``cpxm identity accept/reject`` and the
JSON API, so they are audited and undoable the same way: an accepted pair's merge can be undone
from the page, which also keeps the two records apart on later runs.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cpxm.access import DATA_STEWARDSHIP, DataSteward, requires
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.identity import review, service
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[requires(DATA_STEWARDSHIP)])
PAGE_SIZE = 20


@router.get("/identity/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    session: DbSession,
    principal: DataSteward,
    offset: Annotated[int, Query(ge=0)] = 0,
    message: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    items, total = review.review_items(session, limit=PAGE_SIZE, offset=offset)
    return templates.TemplateResponse(
        request,
        "identity/review.html",
        {
            "items": items,
            "total": total,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "decisions": review.recent_decisions(session),
            "message": message,
            "principal": principal,
            "active_nav": "identity",
        },
    )


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
