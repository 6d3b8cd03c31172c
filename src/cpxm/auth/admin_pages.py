"""The admin page for people: add users, change roles and teams, deactivate, unlock."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cpxm.access import ROLES, Administrator
from cpxm.auth import service, throttle
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.web.templating import templates
from cpxm.workspace.models import Team

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: DbSession, principal: Administrator) -> Response:
    users, total = service.list_users(session, limit=1000, offset=0)
    teams = list(session.scalars(select(Team).order_by(Team.name)))
    return templates.TemplateResponse(
        request,
        "admin/users.html",
        {
            "users": users,
            "total": total,
            "teams": teams,
            "team_names": {team.id: team.name for team in teams},
            "roles": ROLES,
            "csrf_token": principal.csrf_token or "",
            "message": request.query_params.get("message"),
            "error": request.query_params.get("error"),
            "active_nav": "admin",
        },
    )


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
