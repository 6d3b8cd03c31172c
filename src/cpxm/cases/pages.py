"""Case pages: the inbox, one case with its trail and actions, and the public recovery question."""

from __future__ import annotations

import dataclasses
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cpxm.access import (
    CASE_WORK,
    PUBLIC,
    CaseWorker,
    CommercialReader,
    Principal,
    casework,
    hidden_case_types,
    requires,
    shield_stakeholders,
)
from cpxm.access.roles import Role
from cpxm.cases import context, history, notifications, service
from cpxm.cases.api import case_detail, case_query, cases_for, visible_case, workable_case
from cpxm.cases.models import Case
from cpxm.cases.service import RESOLUTION_CODES
from cpxm.cases.sla import CASE_TYPES
from cpxm.csvout import csv_response
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.stakeholders.models import Stakeholder
from cpxm.stakeholders.schemas import stakeholder_out
from cpxm.timeutil import utc_now
from cpxm.web.lists import CSV_LIMIT, ListParams, list_params, page_context, query_string
from cpxm.web.people import people_as_shown
from cpxm.web.templating import templates
from cpxm.workspace.models import Team, User

router = APIRouter(include_in_schema=False)


SORTS = (
    ("due", "Most urgent (due soonest)"),
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("priority", "Priority"),
    ("updated", "Recently closed or opened"),
)
# What each tab lists, as a status filter, whether it keeps the user's own, and its usual order:
# open work by its due date, closed work newest first.
VIEWS: dict[str, tuple[str | None, bool, str]] = {
    "mine": ("active", True, "due"),
    "all": ("active", False, "due"),
    "closed": ("closed", False, "updated"),
    "every": (None, False, "newest"),
}


@dataclass(frozen=True)
class CaseFilters:
    """A case list's query string, checked: the page and its CSV read the same one."""

    listing: ListParams
    view: str = "mine"
    case_type: str | None = None
    priority: str | None = None
    assignee: str | None = None
    team_id: int | None = None
    overdue: bool = False

    @property
    def q(self) -> str | None:
        return self.listing.q

    @property
    def sort(self) -> str:
        return self.listing.sort

    def query(self) -> str:
        """The filters as a query string (no offset), for the pager, the tabs and the CSV."""
        return query_string(
            {
                "view": self.view,
                "q": self.q,
                "case_type": self.case_type,
                "priority": self.priority,
                "assignee": self.assignee,
                "team_id": self.team_id,
                "overdue": self.overdue,
                "sort": self.sort,
            }
        )


def case_filters(
    listing: Annotated[ListParams, list_params(SORTS, default="due")],
    view: Annotated[Literal["mine", "all", "closed", "every"], Query()] = "mine",
    case_type: Annotated[str | None, Query(max_length=40)] = None,
    priority: Annotated[Literal["", "low", "normal", "high", "urgent"], Query()] = "",
    assignee: Annotated[str | None, Query(max_length=20, pattern=r"^(|me|unassigned|\d+)$")] = None,
    team_id: Annotated[str | None, Query(max_length=12, pattern=r"^\d*$")] = None,
    overdue: bool = False,
    sort: Annotated[str, Query(max_length=40)] = "",
) -> CaseFilters:
    if not sort:  # each tab has its usual order
        listing = dataclasses.replace(listing, sort=VIEWS[view][2])
    return CaseFilters(
        listing=listing,
        view=view,
        case_type=case_type or None,
        priority=priority or None,
        assignee=assignee or None,
        team_id=int(team_id) if team_id else None,
        overdue=overdue,
    )


Filters = Annotated[CaseFilters, Depends(case_filters)]


def _query(session: DbSession, principal: Principal, filters: CaseFilters) -> service.CaseQuery:
    status, mine, _sort = VIEWS[filters.view]
    return case_query(
        session,
        principal,
        status=status,
        case_type=filters.case_type,
        priority=filters.priority,
        assignee=filters.assignee,
        team_id=filters.team_id,
        mine=mine,
        overdue=filters.overdue,
        q=filters.q,
        sort=filters.sort,
    )


@dataclass(frozen=True)
class CaseRow:
    case: Case
    person: str | None
    person_link: str | None
    owner: str
    overdue: bool


def _rows(session: DbSession, principal: Principal, cases: list[Case]) -> list[CaseRow]:
    """Each case with its person (as the role may see them) and its owner, looked up in bulk."""
    person_of = people_as_shown(
        session, principal, (case.stakeholder_id for case in cases), purpose="case list"
    )
    users = dict(session.execute(select(User.id, User.display_name)).all())
    teams = dict(session.execute(select(Team.id, Team.name)).all())
    now = utc_now()
    rows = []
    for case in cases:
        view = person_of.get(case.stakeholder_id) if case.stakeholder_id is not None else None
        if case.assignee_user_id is not None:
            owner = users.get(case.assignee_user_id, "a former user")
        elif case.team_id is not None:
            owner = f"team {teams.get(case.team_id, '?')}"
        else:
            owner = "nobody yet"
        rows.append(
            CaseRow(
                case=case,
                person=view.display_name if view else None,
                person_link=f"/stakeholders/{view.id}" if view and view.id is not None else None,
                owner=owner,
                overdue=case.status != "closed" and case.due_at is not None and case.due_at < now,
            )
        )
    return rows


@router.get("/cases", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: DbSession,
    principal: CommercialReader,
    filters: Filters,
) -> Response:
    listing = filters.listing
    cases, total = cases_for(
        session,
        principal,
        _query(session, principal, filters),
        limit=listing.page_size,
        offset=listing.offset,
    )
    unread, unread_total = notifications.list_notifications(
        session, user_id=principal.user_id, unread_only=True, limit=20, offset=0
    )
    teams = {t.id: t for t in session.scalars(select(Team).order_by(Team.name))}
    assignable = session.scalars(
        select(User).where(User.is_active.is_(True)).order_by(User.display_name)
    ).all()
    return templates.TemplateResponse(
        request,
        "cases/inbox.html",
        {
            **page_context(listing, total=total, query=filters.query(), sorts=SORTS),
            "rows": _rows(session, principal, cases),
            "filters": filters,
            "view": filters.view,
            "case_types": [t for t in CASE_TYPES if t not in hidden_case_types(principal)],
            "teams": teams,
            "assignable": assignable,
            "notifications": unread,
            "unread_total": unread_total,
            "recovery": service.recovery_figures(session),
            "principal": principal,
            "active_nav": "cases",
        },
    )


CSV_HEADER = (
    "case_id",
    "title",
    "case_type",
    "priority",
    "status",
    "person",
    "person_id",
    "owner",
    "team",
    "opened_at",
    "due_at",
    "overdue",
    "closed_at",
    "resolution_code",
    "escalated",
)


@router.get("/cases/export.csv")
def cases_csv(session: DbSession, principal: CommercialReader, filters: Filters) -> Response:
    """Exactly the cases the list shows with these filters (every page of them), as CSV."""
    cases, _total = cases_for(
        session, principal, _query(session, principal, filters), limit=CSV_LIMIT, offset=0
    )
    rows = _rows(session, principal, cases)
    teams = dict(session.execute(select(Team.id, Team.name)).all())
    return csv_response(
        "cases.csv",
        CSV_HEADER,
        (
            (
                row.case.id,
                row.case.title,
                row.case.case_type,
                row.case.priority,
                row.case.status,
                row.person,
                row.person_link.rsplit("/", 1)[1] if row.person_link else None,
                row.owner,
                teams.get(row.case.team_id) if row.case.team_id is not None else None,
                _iso(row.case.opened_at),
                _iso(row.case.due_at),
                "yes" if row.overdue else "no",
                _iso(row.case.closed_at),
                row.case.resolution_code,
                "yes" if row.case.escalation_level else "no",
            )
            for row in rows
        ),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(sep=" ", timespec="minutes") if moment else None


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
    people = session.execute(select(User.id, User.email, User.display_name)).all()
    names = history.Names(
        users={user_id: name for user_id, _email, name in people},
        teams={t.id: t.name for t in teams.values()},
        emails={email.lower(): name for _user_id, email, name in people},
    )
    return templates.TemplateResponse(
        request,
        "cases/case.html",
        {
            "case": case,
            # What was said and the trail's words, as the role may read them.
            "shown": shown,
            "trail": history.trail(shown.events, names),
            "stakeholder": stakeholder,
            "context": context.case_context(session, principal, case),
            "current_assignee": (
                f"user:{case.assignee_user_id}"
                if case.assignee_user_id is not None
                else (f"team:{case.team_id}" if case.team_id is not None else "")
            ),
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


@router.get("/cases/{case_id}/recovery-preview", response_class=HTMLResponse)
def recovery_preview(
    request: Request, session: DbSession, principal: CommercialReader, case_id: int
) -> Response:
    """The re-survey question exactly as the person will see it, without a way to answer."""
    visible_case(session, principal, case_id)
    return templates.TemplateResponse(
        request,
        "cases/recovery.html",
        {"token": "", "answered": False, "preview_of": case_id, "active_nav": "cases"},
    )


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
