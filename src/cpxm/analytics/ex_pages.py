"""The EX-CX page (``/analytics/ex``) and its CSV download: figures over groups only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from cpxm.access import AGGREGATES, requires
from cpxm.analytics.ex import ExReport
from cpxm.analytics.ex_actions import action_views
from cpxm.analytics.ex_api import cached_ex_report, ex_query
from cpxm.analytics.export import csv_response
from cpxm.deps import DbSession
from cpxm.errors import FieldError
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[requires(AGGREGATES)])
WaveParam = Annotated[str | None, Query()]


@router.get("/analytics/ex", response_class=HTMLResponse)
def ex_page(
    request: Request,
    session: DbSession,
    survey: WaveParam = None,
    wave: WaveParam = None,
    attribution_days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> Response:
    query = ex_query(survey, wave, attribution_days)
    context: dict[str, Any] = {"query": query, "report": None, "errors": [], "actions": []}
    try:
        report = cached_ex_report(request, session, query)
    except FieldError as error:
        context["errors"] = error.detail
        return templates.TemplateResponse(request, "analytics/ex.html", context, status_code=422)
    context.update(report=report, actions=action_views(session, report))
    return templates.TemplateResponse(request, "analytics/ex.html", context)


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
