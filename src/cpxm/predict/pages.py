"""The at-risk page (who may turn detractor or disengage, why, and how good the model is) and the
next-best-action page (one proposed outreach each: accept, decline, record what came of it).

The action page's forms go through the same service functions as ``cpxm predict accept`` and the
JSON API; who may see and decide an action is ``cpxm.access.outreach``'s to say.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cpxm.access import (
    CASE_WORK,
    COMMERCIAL_DATA,
    CX_MANAGEMENT,
    CaseWorker,
    CommercialReader,
    CxManager,
    requires,
)
from cpxm.access.outreach import may_decide
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.predict import outreach
from cpxm.predict.models import OutreachAction, PredictionModel
from cpxm.predict.service import at_risk_stakeholders
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
from cpxm.web.templating import templates

router = APIRouter(
    prefix="/predictions", include_in_schema=False, dependencies=[requires(COMMERCIAL_DATA)]
)
PAGE_SIZE = 50
ACTIONS_PAGE_SIZE = 25
STATUS_LABELS = {
    "proposed": "Proposed",
    "accepted": "Accepted",
    "dismissed": "Declined",
    "done": "Done",
}
OUTCOME_LABELS = {
    "reached_improved": "Reached, improved",
    "reached_no_change": "Reached, no change",
    "not_reached": "Not reached",
}


@router.get("", response_class=HTMLResponse)
def at_risk_page(
    request: Request,
    session: DbSession,
    principal: CommercialReader,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    listing = at_risk_stakeholders(
        session, principal, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    model = (
        session.scalar(
            select(PredictionModel).where(PredictionModel.version == listing.model_version)
        )
        if listing.model_version is not None
        else None
    )
    return templates.TemplateResponse(
        request,
        "predict/at_risk.html",
        {
            "listing": listing,
            "model": model,
            "page": page,
            "pages": max(1, -(-listing.total // PAGE_SIZE)),
            "principal": principal,
            "active_nav": "predictions",
        },
    )


Listing = Annotated[ListParams, list_params(outreach.ACTION_SORTS, default="risk")]
StatusChoice = Literal["proposed", "accepted", "dismissed", "done"]


def action_filter(
    listing: Listing,
    status: Annotated[StatusChoice | Literal[""], Query()] = "proposed",
) -> outreach.ActionFilter:
    return outreach.ActionFilter(status=status or None, q=listing.q, sort=listing.sort)


Filters = Annotated[outreach.ActionFilter, Depends(action_filter)]


def _query(filters: outreach.ActionFilter) -> str:
    # "all statuses" must survive paging: an empty status is sent explicitly.
    return query_string({"q": filters.q, "sort": filters.sort}) + (
        f"&status={filters.status or ''}"
    )


@router.get("/actions", response_class=HTMLResponse)
def actions_page(
    request: Request,
    session: DbSession,
    principal: CommercialReader,
    filters: Filters,
    listing: Listing,
    message: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    listing = dataclasses.replace(listing, page_size=ACTIONS_PAGE_SIZE)
    rows, total = outreach.actions_for_viewer(
        session, principal, action_filter=filters, limit=ACTIONS_PAGE_SIZE, offset=listing.offset
    )
    decidable = {
        row.id
        for row in rows
        if may_decide(session, principal, team_id=row.team_id, case_id=row.case_id)
    }
    return templates.TemplateResponse(
        request,
        "predict/actions.html",
        {
            **page_context(
                listing, total=total, query=_query(filters), sorts=outreach.ACTION_SORTS
            ),
            "rows": rows,
            "filters": filters,
            "decidable": decidable,
            "status_labels": STATUS_LABELS,
            "outcome_labels": OUTCOME_LABELS,
            "may_propose": CX_MANAGEMENT.allows(principal.role),
            "message": message,
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "predictions",
        },
    )


@router.get("/actions/export.csv")
def actions_csv(session: DbSession, principal: CommercialReader, filters: Filters) -> Response:
    """Exactly the actions of the page's filters (every page), as the reader may see them."""
    rows, _total = outreach.actions_for_viewer(
        session, principal, action_filter=filters, limit=CSV_LIMIT
    )
    columns: list[Column[outreach.ActionRow]] = [
        Column("action_id", lambda r: r.id),
        Column("stakeholder", lambda r: r.stakeholder),
        Column("stakeholder_type", lambda r: r.stakeholder_type),
        Column("risk", lambda r: r.risk),
        Column("team", lambda r: r.team or ""),
        Column("channel", lambda r: r.channel or ""),
        Column("not_before", lambda r: minutes(r.not_before)),
        Column("held_by", lambda r: r.held_reason or ""),
        Column("topic", lambda r: r.topic),
        Column("why", lambda r: r.why),
        Column("status", lambda r: STATUS_LABELS.get(r.status, r.status)),
        Column("case_id", lambda r: r.case_id or ""),
        Column("outcome", lambda r: OUTCOME_LABELS.get(r.outcome or "", "")),
        Column("proposed_at", lambda r: minutes(r.proposed_at)),
    ]
    return csv_of("outreach-actions.csv", columns, rows)


def _back(message: str, back: str) -> RedirectResponse:
    # Only our own list's query string comes back; anything else returns to the default list.
    target = back if back.startswith("/predictions/actions") else "/predictions/actions"
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}message={quote(message)}", status_code=303)


def _action(session: DbSession, principal: CaseWorker, action_id: int) -> OutreachAction:
    action = outreach.get_action(session, action_id=action_id)
    outreach.check_may_work(session, principal, action)  # 404 unseen, 403 not theirs
    return action


@router.post("/actions/propose", dependencies=[requires(CX_MANAGEMENT)])
def propose_from_page(
    session: DbSession,
    principal: CxManager,
    percent: Annotated[float, Form(gt=0, le=100)] = 10.0,
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        proposal = outreach.propose_actions(session, share=percent / 100)
    except DomainError as error:
        return _back(str(error.detail), back)
    return _back(
        f"Proposed {proposal.proposed} action(s) for the top {percent:g}% by risk "
        f"({proposal.held} pushed back by contact rules; {proposal.skipped_open} already had one "
        "open).",
        back,
    )


@router.post("/actions/{action_id}/accept", dependencies=[requires(CASE_WORK)])
def accept_from_page(
    session: DbSession,
    principal: CaseWorker,
    action_id: int,
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    action = _action(session, principal, action_id)
    try:
        outreach.accept_action(session, action=action, actor_user_id=principal.user_id)
    except DomainError as error:
        return _back(str(error.detail), back)
    return _back(
        f"Action {action_id} accepted: case {action.case_id} opened for the responsible team.", back
    )


@router.post("/actions/{action_id}/decline", dependencies=[requires(CASE_WORK)])
def decline_from_page(
    session: DbSession,
    principal: CaseWorker,
    action_id: int,
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    action = _action(session, principal, action_id)
    try:
        outreach.dismiss_action(session, action=action, actor_user_id=principal.user_id)
    except DomainError as error:
        return _back(str(error.detail), back)
    return _back(f"Action {action_id} declined: nobody reaches out for it.", back)


@router.post("/actions/{action_id}/outcome", dependencies=[requires(CASE_WORK)])
def outcome_from_page(
    session: DbSession,
    principal: CaseWorker,
    action_id: int,
    outcome: Annotated[str, Form(max_length=40)],
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    action = _action(session, principal, action_id)
    try:
        outreach.record_outcome(session, action=action, outcome=outcome)
    except DomainError as error:
        return _back(str(error.detail), back)
    label = OUTCOME_LABELS[outcome].lower()
    return _back(
        f"Action {action_id} done: {label}. The next scoring shows the risk it left.", back
    )
