"""The EX-CX page (``/analytics/ex``) and its CSV download: figures over groups only."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from cpxm.access import AGGREGATES, AggregatesReader, Principal, requires, team_plans
from cpxm.access.policy import TEAM_ACTIONS, TeamLead
from cpxm.analytics.ex import ExQuery, ExReport
from cpxm.analytics.ex_actions import (
    STATUSES,
    action_views,
    get_action,
    record_action,
    update_action,
)
from cpxm.analytics.ex_api import cached_ex_report, ex_query
from cpxm.analytics.export import csv_response
from cpxm.analytics.models import ENABLERS
from cpxm.deps import DbSession
from cpxm.errors import DomainError, FieldError
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[requires(AGGREGATES)])
WaveParam = Annotated[str | None, Query()]


@router.get("/analytics/ex", response_class=HTMLResponse)
def ex_page(
    request: Request,
    session: DbSession,
    principal: AggregatesReader,
    survey: WaveParam = None,
    wave: WaveParam = None,
    attribution_days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> Response:
    return _render(request, session, principal, ex_query(survey, wave, attribution_days))


def _render(
    request: Request,
    session: Session,
    principal: Principal,
    query: ExQuery,
    *,
    action_errors: list[Any] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {"query": query, "report": None, "errors": [], "actions": []}
    try:
        report = cached_ex_report(request, session, query)
    except FieldError as error:
        context["errors"] = error.detail
        return templates.TemplateResponse(request, "analytics/ex.html", context, status_code=422)
    writable = team_plans.writable_teams(session, principal)
    plan_teams = [
        row
        for row in report.teams
        if row.team_id is not None and (writable is None or row.team_id in writable)
    ]
    context.update(
        report=report,
        actions=action_views(session, report),
        plan_teams=plan_teams,
        may_write=lambda team_id: writable is None or team_id in writable,
        enabler_choices=[code for code in ENABLERS if code in report.enablers],
        statuses=STATUSES,
        can_record=TEAM_ACTIONS.allows(principal.role),
        action_errors=action_errors or [],
        form=form or {},
        today=date.today(),
    )
    return templates.TemplateResponse(
        request, "analytics/ex.html", context, status_code=status_code
    )


def _plan_refused(
    request: Request,
    session: Session,
    principal: Principal,
    error: DomainError,
    form: dict[str, Any],
) -> Response:
    """The page again, with what was typed and why it was refused; nothing stored."""
    session.rollback()
    detail = error.detail if isinstance(error.detail, list) else [{"msg": str(error.detail)}]
    return _render(
        request,
        session,
        principal,
        ExQuery(),
        action_errors=detail,
        form=form,
        status_code=error.status_code if error.status_code != 400 else 422,
    )


@router.post("/analytics/ex/actions")
def ex_create_action(
    request: Request,
    session: DbSession,
    principal: TeamLead,
    team_id: Annotated[int, Form()],
    enabler: Annotated[str, Form(max_length=40)],
    action: Annotated[str, Form(max_length=5000)],
    owner: Annotated[str, Form(max_length=500)],
    due_date: Annotated[date, Form()],
) -> Response:
    """The page's form: a team's new action against an enabler (its own team's people, admin
    and hr_partner)."""
    typed = {"team_id": team_id, "enabler": enabler, "action": action, "owner": owner,
             "due_date": due_date}  # fmt: skip
    try:
        team_plans.require_plan_writer(session, principal, team_id)
        record_action(
            session,
            team_id=team_id,
            enabler=enabler,
            action=action,
            owner=owner,
            due_date=due_date,
            user_id=principal.user_id,
            report=cached_ex_report(request, session, ExQuery()),
        )
    except DomainError as error:
        return _plan_refused(request, session, principal, error, typed)
    return RedirectResponse("/analytics/ex#actions-title", status_code=303)


@router.post("/analytics/ex/actions/{action_id}")
def ex_change_action(
    request: Request,
    session: DbSession,
    principal: TeamLead,
    action_id: int,
    status: Annotated[str, Form(max_length=20)],
    owner: Annotated[str, Form(max_length=500)],
    due_date: Annotated[date, Form()],
) -> Response:
    """The page's form on one action: its status, owner and due date."""
    try:
        found = get_action(session, action_id=action_id)
        team_plans.require_plan_writer(session, principal, found.team_id)
        update_action(session, action=found, status=status, owner=owner, due_date=due_date)
    except DomainError as error:
        return _plan_refused(request, session, principal, error, {"action_id": action_id})
    return RedirectResponse("/analytics/ex#actions-title", status_code=303)


TEAM_COLUMNS = (
    "wave", "team", "respondents", "response_rate", "enps", "enps_ci_low", "enps_ci_high",
)  # fmt: skip


def team_rows(report: ExReport) -> tuple[list[str], list[list[Any]]]:
    """The team table as the page shows it: hidden cells stay empty."""
    header = [*TEAM_COLUMNS, *report.enablers]
    header += ["customer_nps", "customer_csat", "customer_ces", "contacts", "customers_served"]
    header += ["contacts_per_customer", "ping_pong_episodes"]
    rows = []
    for row in report.teams:
        rows.append(
            [
                report.wave,
                row.team,
                row.respondents,
                row.response_rate.value,
                row.enps.value,
                row.enps.ci_low,
                row.enps.ci_high,
                *(row.enablers[code].value for code in report.enablers),
                *(row.customer[kind].value for kind in ("nps", "csat", "ces")),
                row.contacts,
                row.customers_served,
                row.contacts_per_customer,
                row.ping_pong_episodes,
            ]
        )
    return header, rows


@router.get("/analytics/ex/teams.csv")
def ex_teams_csv(
    request: Request,
    session: DbSession,
    survey: WaveParam = None,
    wave: WaveParam = None,
    attribution_days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> Response:
    report = cached_ex_report(request, session, ex_query(survey, wave, attribution_days))
    header, rows = team_rows(report)
    return csv_response(f"ex-teams-{report.wave or 'none'}.csv", header, rows)
