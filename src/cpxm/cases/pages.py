"""Case pages: the inbox, one case with its trail and actions, and the public recovery question."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cpxm.access import (
    CASE_WORK,
    PUBLIC,
    CaseWorker,
    CommercialReader,
    casework,
    hidden_case_types,
    requires,
    shield_stakeholders,
)
from cpxm.access.roles import Role
from cpxm.cases import notifications, service
from cpxm.cases.api import case_detail, visible_case, workable_case
from cpxm.cases.service import RESOLUTION_CODES
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.stakeholders.models import Stakeholder
from cpxm.stakeholders.schemas import stakeholder_out
from cpxm.timeutil import utc_now
from cpxm.web.templating import templates
from cpxm.workspace.models import Team, User

router = APIRouter(include_in_schema=False)


@router.get("/cases", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: DbSession,
    principal: CommercialReader,
    view: str = "mine",
) -> Response:
    me = session.get(User, principal.user_id)
    cases, total = service.list_cases(
        session,
        status="active" if view != "closed" else "closed",
        mine_for=me if view == "mine" else None,
        hidden_types=hidden_case_types(principal),
        limit=200,
        offset=0,
    )
    unread, unread_total = notifications.list_notifications(
        session, user_id=principal.user_id, unread_only=True, limit=20, offset=0
    )
    return templates.TemplateResponse(
        request,
        "cases/inbox.html",
        {
            "cases": cases,
            "total": total,
            "view": view,
            "now": utc_now(),
            "notifications": unread,
            "unread_total": unread_total,
            "recovery": service.recovery_figures(session),
            "principal": principal,
            "active_nav": "cases",
        },
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, session: DbSession, principal: CommercialReader, case_id: int
) -> Response:
    case = visible_case(session, principal, case_id)
    shown = case_detail(session, principal, case)
    stakeholder = None
    if case.stakeholder_id is not None:
        found = session.get(Stakeholder, case.stakeholder_id)
        if found is not None:
            stakeholder = shield_stakeholders(
                session, principal, [stakeholder_out(found)], purpose="case page"
            )[0]
    users = {u.id: u for u in session.scalars(select(User).where(User.is_active.is_(True)))}
    teams = {t.id: t for t in session.scalars(select(Team).order_by(Team.name))}
    return templates.TemplateResponse(
        request,
        "cases/case.html",
        {
            "case": case,
            # What was said and the trail's words, as the role may read them.
            "shown": shown,
            "events": shown.events,
            "stakeholder": stakeholder,
            "users": users,
            "teams": teams,
            "resolution_codes": RESOLUTION_CODES,
            "can_work": casework.may_change(session, principal, case),
            # Only people who could open and work the case are offered as assignees.
            "assignees": [
                user
                for user in users.values()
                if casework.may_open(Role(user.role), case) and CASE_WORK.allows(Role(user.role))
            ],
            "csrf_token": principal.csrf_token or "",
            "error": request.query_params.get("error"),
            "principal": principal,
            "active_nav": "cases",
        },
    )


@router.post("/cases/{case_id}/action")
def case_action(
    session: DbSession,
    principal: CaseWorker,
    case_id: int,
    action: Annotated[str, Form(max_length=20)],
    text: Annotated[str, Form(max_length=5000)] = "",
    resolution_code: Annotated[str, Form(max_length=60)] = "",
    assignee: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """One form endpoint for the case page's buttons; errors come back on the page."""
    case = workable_case(session, principal, case_id)
    actor = principal.user_id
    try:
        if action == "start":
            service.start_case(session, case=case, actor_user_id=actor)
        elif action == "comment":
            service.comment_case(session, case=case, actor_user_id=actor, text=text)
        elif action == "close":
            service.close_case(
                session,
                case=case,
                actor_user_id=actor,
                resolution_code=resolution_code,
                note=text or None,
            )
        elif action == "reopen":
            service.reopen_case(session, case=case, actor_user_id=actor, reason=text or "reopened")
        elif action == "assign":
            kind, _, number = assignee.partition(":")
            if not number.isdigit() or kind not in ("user", "team"):
                raise DomainError("choose a person or a team to assign to")
            casework.require_assignable(session, case, int(number) if kind == "user" else None)
            service.assign_case(
                session,
                case=case,
                actor_user_id=actor,
                user_id=int(number) if kind == "user" else None,
                team_id=int(number) if kind == "team" else None,
            )
        else:
            raise DomainError(f"unknown action '{action}'")
    except DomainError as error:
        session.rollback()
        return RedirectResponse(
            f"/cases/{case_id}?error={quote(str(error.detail))}", status_code=303
        )
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/r/{token}", response_class=HTMLResponse, dependencies=[requires(PUBLIC)])
def recovery_question(request: Request, session: DbSession, token: str) -> Response:
    """The one-question re-survey after a case closes; works without JavaScript."""
    case = service.case_for_recovery(session, token=token)
    return templates.TemplateResponse(
        request,
        "cases/recovery.html",
        {"token": token, "answered": case.recovery_answered_at is not None, "active_nav": ""},
    )


@router.post("/r/{token}", response_class=HTMLResponse, dependencies=[requires(PUBLIC)])
def recovery_answer(
    request: Request,
    session: DbSession,
    token: str,
    score: Annotated[int, Form(ge=0, le=10)],
) -> Response:
    # Answered before: thank them again and change nothing.
    with suppress(service.CaseStateError):
        service.record_recovery_answer(session, token=token, score=score)
    return templates.TemplateResponse(
        request, "cases/recovery.html", {"token": token, "answered": True, "active_nav": ""}
    )
