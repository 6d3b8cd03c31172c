"""JSON routes: who am I, and (admins) users, teams and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from cpxm.access import ADMINISTRATION, Administrator, SignedIn, requires
from cpxm.auth import service
from cpxm.auth.schemas import (
    MeOut,
    TeamCreate,
    TeamOut,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from cpxm.deps import DbSession
from cpxm.pagination import Page, Pagination

me_router = APIRouter(prefix="/me", tags=["auth"])
admin_router = APIRouter(tags=["admin"], dependencies=[requires(ADMINISTRATION)])


@me_router.get("", response_model=MeOut)
def who_am_i(principal: SignedIn) -> MeOut:
    """The signed-in user, their role and the data domains it opens."""
    return MeOut(
        id=principal.user_id,
        email=principal.email,
        display_name=principal.display_name,
        role=principal.role.value,
        domains=sorted(domain.value for domain in principal.domains),
    )


@admin_router.get("/users", response_model=Page[UserOut])
def list_users(session: DbSession, page: Pagination) -> Page[UserOut]:
    users, total = service.list_users(session, limit=page.limit, offset=page.offset)
    return Page(
        items=[UserOut.model_validate(u) for u in users],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@admin_router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(session: DbSession, data: UserCreate) -> UserOut:
    user = service.create_user(
        session,
        email=data.email,
        role=_checked_role(data.role),
        password=data.password,
        display_name=data.display_name,
        team_id=data.team_id,
    )
    return UserOut.model_validate(user)


@admin_router.patch("/users/{user_id}", response_model=UserOut)
def update_user(session: DbSession, user_id: int, data: UserUpdate) -> UserOut:
    user = service.get_user(session, user_id=user_id)
    if data.role is not None:
        _checked_role(data.role)
    updated = service.update_user(
        session,
        user=user,
        role=data.role,
        team_id=data.team_id,
        is_active=data.is_active,
        password=data.password,
    )
    return UserOut.model_validate(updated)


@admin_router.post(
    "/users/{user_id}/tokens", response_model=TokenOut, status_code=status.HTTP_201_CREATED
)
def create_token(
    session: DbSession, principal: Administrator, user_id: int, data: TokenCreate
) -> TokenOut:
    user = service.get_user(session, user_id=user_id)
    issued = service.create_api_token(session, user=user, name=data.name)
    return TokenOut(
        id=issued.api_token.id,
        name=issued.api_token.name,
        prefix=issued.api_token.prefix,
        created_at=issued.api_token.created_at,
        token=issued.token,
    )


@admin_router.get("/teams", response_model=Page[TeamOut])
def list_teams(session: DbSession, page: Pagination) -> Page[TeamOut]:
    teams, total = service.list_teams(session, limit=page.limit, offset=page.offset)
    return Page(
        items=[TeamOut.model_validate(t) for t in teams],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@admin_router.post("/teams", response_model=TeamOut, status_code=status.HTTP_201_CREATED)
def create_team(session: DbSession, data: TeamCreate) -> TeamOut:
    team = service.create_team(
        session,
        name=data.name,
        department_code=data.department_code,
        country_code=data.country_code,
        therapeutic_area_code=data.therapeutic_area_code,
    )
    return TeamOut.model_validate(team)


def _checked_role(role: str) -> str:
    from cpxm.access.roles import parse_role
    from cpxm.errors import FieldError, field_error

    try:
        return parse_role(role).value
    except ValueError as error:
        raise FieldError([field_error("role", str(error), role)]) from None
