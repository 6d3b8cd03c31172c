"""The admin page for people: add users, change roles and teams, deactivate, unlock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cpxm.access import ROLES, Administrator
from cpxm.auth import service, throttle
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.timeutil import utc_now
from cpxm.web.lists import (
    CSV_LIMIT,
    Column,
    ListParameterError,
    ListParams,
    csv_of,
    list_params,
    minutes,
    page_context,
    query_string,
)
from cpxm.web.templating import templates
from cpxm.workspace.models import Team, User

router = APIRouter(prefix="/admin", include_in_schema=False)


@dataclass(frozen=True)
class PeopleFilters:
    """The people list's query string, checked: the page and its CSV read the same one."""

    role: str | None
    team_id: int | None
    state: str | None
    listing: ListParams

    def query(self) -> str:
        return query_string(
            {
                "q": self.listing.q,
                "role": self.role,
                "team_id": self.team_id,
                "state": self.state,
                "sort": self.listing.sort,
            }
        )


def people_filters(
    listing: Annotated[ListParams, list_params(service.USER_SORTS, default="name")],
    role: Annotated[str, Query(max_length=40)] = "",
    team_id: Annotated[str, Query(max_length=12, pattern=r"^\d*$")] = "",
    state: Annotated[Literal["", "active", "deactivated", "locked"], Query()] = "",
) -> PeopleFilters:
    if role and role not in ROLES:
        raise ListParameterError(f"role is '{role}', expected one of {', '.join(ROLES)}")
    return PeopleFilters(
        role=role or None,
        team_id=int(team_id) if team_id else None,
        state=state or None,
        listing=listing,
    )


Filters = Annotated[PeopleFilters, Depends(people_filters)]


def _people(session: DbSession, filters: PeopleFilters, *, limit: int, offset: int) -> Any:
    return service.list_users(
        session,
        limit=limit,
        offset=offset,
        q=filters.listing.q,
        role=filters.role,
        team_id=filters.team_id,
        state=filters.state,
        sort=filters.listing.sort,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: DbSession, principal: Administrator, filters: Filters
) -> Response:
    listing = filters.listing
    users, total = _people(session, filters, limit=listing.page_size, offset=listing.offset)
    teams = list(session.scalars(select(Team).order_by(Team.name)))
    return templates.TemplateResponse(
        request,
        "admin/users.html",
        {
            **page_context(listing, total=total, query=filters.query(), sorts=service.USER_SORTS),
            "users": users,
            "filters": filters,
            "states": service.USER_STATES,
            "teams": teams,
            "team_names": {team.id: team.name for team in teams},
            "roles": ROLES,
            "now": utc_now(),
            "csrf_token": principal.csrf_token or "",
            "message": request.query_params.get("message"),
            "error": request.query_params.get("error"),
            "active_nav": "admin",
        },
    )


@router.get("/users/export.csv")
def users_csv(session: DbSession, principal: Administrator, filters: Filters) -> Response:
    """Exactly the people the list shows with these filters (every page), as CSV."""
    users, _total = _people(session, filters, limit=CSV_LIMIT, offset=0)
    teams = dict(session.execute(select(Team.id, Team.name)).all())
    now = utc_now()
    columns: list[Column[User]] = [
        Column("user_id", lambda u: u.id),
        Column("name", lambda u: u.display_name),
        Column("email", lambda u: u.email),
        Column("role", lambda u: u.role),
        Column("team", lambda u: teams.get(u.team_id) if u.team_id is not None else None),
        Column("state", lambda u: _state(u, now)),
        Column("created_at", lambda u: minutes(u.created_at)),
        Column("last_sign_in_at", lambda u: minutes(u.last_sign_in_at)),
    ]
    return csv_of("people.csv", columns, users)


def _state(user: User, now: datetime) -> str:
    if not user.is_active:
        return "deactivated"
    if user.locked_until is not None and user.locked_until > now:
        return "locked"
    return "active"


def _back(*, message: str | None = None, error: str | None = None) -> Response:
    query = f"?message={quote(message)}" if message else f"?error={quote(error or '')}"
    return RedirectResponse(f"/admin/users{query}", status_code=303)


@router.post("/users")
def add_user(
    session: DbSession,
    principal: Administrator,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=1024)] = "",
    team_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        user = service.create_user(
            session,
            email=email,
            role=role,
            password=password or None,
            team_id=int(team_id) if team_id.isdigit() else None,
        )
    except (DomainError, ValueError) as error:
        session.rollback()
        return _back(error=str(error.detail if isinstance(error, DomainError) else error))
    return _back(message=f"added {user.email} as {user.role}")


@router.post("/users/{user_id}")
def change_user(
    session: DbSession,
    principal: Administrator,
    user_id: int,
    role: Annotated[str, Form(max_length=40)] = "",
    team_id: Annotated[str, Form(max_length=20)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    user = service.get_user(session, user_id=user_id)
    if user.id == principal.user_id and (active == "no" or (role and role != "admin")):
        return _back(error="you cannot demote or deactivate yourself; ask another admin")
    try:
        service.update_user(
            session,
            user=user,
            role=role or None,
            team_id=int(team_id) if team_id.isdigit() else None,
            is_active={"yes": True, "no": False}.get(active),
        )
        if active == "yes":
            user.locked_until = None
            user.failed_sign_ins = 0
            throttle.unlock_account(session, email=user.email)
    except (DomainError, ValueError) as error:
        session.rollback()
        return _back(error=str(error.detail if isinstance(error, DomainError) else error))
    return _back(message=f"updated {user.email}")
