"""JSON routes of the EX-CX page under ``/api/v1/analytics/ex``: figures over groups only."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cpxm.access import AGGREGATES, requires, team_plans
from cpxm.access.policy import TeamLead
from cpxm.analytics.ex import ExQuery, ExReport, ex_report
from cpxm.analytics.ex_actions import (
    STATUSES,
    ActionView,
    action_views,
    get_action,
    record_action,
    update_action,
)
from cpxm.analytics.service import report_cache
from cpxm.deps import DbSession
from cpxm.pagination import Page, Pagination

router = APIRouter(prefix="/analytics/ex", tags=["analytics"], dependencies=[requires(AGGREGATES)])


def ex_query(
    survey: Annotated[str | None, Query(description="The pulse's code.")] = None,
    wave: Annotated[
        str | None, Query(description="A pulse wave, e.g. 2025-05 (default: latest).")
    ] = None,
    attribution_days: Annotated[
        int, Query(ge=1, le=365, description="Customer NPS: last employee contact within N days.")
    ] = 30,
) -> ExQuery:
    return ExQuery(survey=survey or None, wave=wave or None, attribution_days=attribution_days)


def cached_ex_report(request: Request, session: Session, query: ExQuery) -> ExReport:
    return report_cache(request.app.state).get(
        session, ("ex", query), lambda: ex_report(session, query)
    )


@router.get("")
def get_ex(
    request: Request,
    session: DbSession,
    survey: Annotated[str | None, Query(description="The pulse's code.")] = None,
    wave: Annotated[str | None, Query(description="A wave, e.g. 2025-05.")] = None,
    attribution_days: Annotated[
        int, Query(ge=1, le=365, description="Customer NPS: last employee contact in N days.")
    ] = 30,
) -> ExReport:
    """Per team: the pulse's eNPS, enablers and response rate (hidden below the workspace's
    minimum cell size, with complementary cells) beside the NPS, CSAT and CES of the customers
    the team served in the wave's period, its contacts and ping-pong episodes; the trend of
    eNPS per team; the association of each enabler with customer scores (95% intervals;
    association, not cause); redacted verbatims of teams at the minimum."""
    return cached_ex_report(request, session, ex_query(survey, wave, attribution_days))


class ActionIn(BaseModel):
    team_id: int
    enabler: str = Field(description="tools, training, coordination or workload")
    action: str
    owner: str
    due_date: date


class ActionChange(BaseModel):
    status: str | None = Field(None, description=" or ".join(STATUSES))
    owner: str | None = None
    due_date: date | None = None
    action: str | None = None


@router.get("/actions")
def list_actions(
    request: Request, session: DbSession, page: Pagination, survey: str | None = None
) -> Page[ActionView]:
    """Team action plans, newest first, with the enabler's move from its baseline wave to the
    next wave where the team's figure is shown."""
    report = cached_ex_report(request, session, ExQuery(survey=survey or None))
    views = action_views(session, report)
    return Page(
        items=views[page.offset : page.offset + page.limit],
        total=len(views),
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/actions", status_code=201)
def create_action(
    request: Request, session: DbSession, principal: TeamLead, action: ActionIn
) -> ActionView:
    """Record a team's action against a low enabler, with owner and due date: admin and
    hr_partner for any team, everyone else for their own team only."""
    team_plans.require_plan_writer(session, principal, action.team_id)
    report = cached_ex_report(request, session, ExQuery())
    created = record_action(
        session,
        team_id=action.team_id,
        enabler=action.enabler,
        action=action.action,
        owner=action.owner,
        due_date=action.due_date,
        user_id=principal.user_id,
        report=report,
    )
    return _view(session, report, created.id)


@router.patch("/actions/{action_id}")
def change_action(
    request: Request, session: DbSession, principal: TeamLead, action_id: int, change: ActionChange
) -> ActionView:
    """Change an action's status, owner, due date or wording (its own team's lead, admin or
    hr_partner)."""
    action = get_action(session, action_id=action_id)
    team_plans.require_plan_writer(session, principal, action.team_id)
    update_action(
        session,
        action=action,
        status=change.status,
        owner=change.owner,
        due_date=change.due_date,
        wording=change.action,
    )
    return _view(session, cached_ex_report(request, session, ExQuery()), action.id)


def _view(session: Session, report: ExReport, action_id: int) -> ActionView:
    return next(view for view in action_views(session, report) if view.id == action_id)
