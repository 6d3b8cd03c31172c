"""The coordination page (``/analytics/coordination``) and its CSV downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cpxm.access import AggregatesReader
from cpxm.analytics.charts import bars_spec
from cpxm.analytics.coordination import CoordinationReport, coordination_for_viewer
from cpxm.analytics.export import csv_response
from cpxm.analytics.metric_pages import (
    render_report_page,
    report_page_context,
)
from cpxm.analytics.params import CoordinationQueryParams
from cpxm.analytics.service import report_cache
from cpxm.deps import DbSession
from cpxm.errors import FieldError

router = APIRouter(include_in_schema=False)

PRESSURE_COLUMNS = (
    "key", "label", "contacts", "stakeholders", "stakeholder_periods",
    "contacts_per_stakeholder_period",
)  # fmt: skip
AFFECTED_COLUMNS = (
    "stakeholder_id", "stakeholder_key", "name", "stakeholder_type", "country", "departments",
    "contacts",
    "episode_started", "last_contact",
)  # fmt: skip


def coordination_charts(report: CoordinationReport) -> dict[str, dict[str, Any]]:
    charts: dict[str, dict[str, Any]] = {}
    if report.by_department:
        charts["departments"] = bars_spec(
            [
                (row.label, row.contacts_per_stakeholder_period)
                for row in report.by_department
                if row.contacts_per_stakeholder_period is not None
            ],
            title=f"Contacts per contacted stakeholder per {report.query.grain}, by department",
        )
    if any(pairs for _, pairs in report.distribution):
        charts["distribution"] = bars_spec(
            [(label, pairs) for label, pairs in report.distribution if pairs is not None],
            title=f"Stakeholder-{report.query.grain}s by number of outbound contacts",
            horizontal=False,
        )
    if report.episodes_by_period:
        charts["episodes"] = bars_spec(
            [
                (period[:7], float(count))
                for period, count in report.episodes_by_period
                if count is not None
            ],
            title=f"Ping-pong episodes starting per {report.query.grain}",
            horizontal=False,
        )
    return charts


@router.get("/analytics/coordination", response_class=HTMLResponse)
def coordination_page(
    request: Request,
    session: DbSession,
    principal: AggregatesReader,
    query: CoordinationQueryParams,
) -> Response:
    context = report_page_context(request, session, query, ("stakeholder_type", "country"))
    return render_report_page(
        request,
        "analytics/coordination.html",
        context,
        lambda: coordination_for_viewer(session, principal, query, report_cache(request.app.state)),
        coordination_charts,
    )


@router.get("/analytics/coordination/export/{table}.csv")
def coordination_csv(
    request: Request,
    table: str,
    session: DbSession,
    principal: AggregatesReader,
    query: CoordinationQueryParams,
) -> Response:
    """``departments``, ``channels``, ``distribution``, ``episodes`` or ``affected``."""
    report = coordination_for_viewer(session, principal, query, report_cache(request.app.state))
    if table in ("departments", "channels"):
        rows = report.by_department if table == "departments" else report.by_channel
        return csv_response(
            f"contact-pressure-{table}.csv",
            PRESSURE_COLUMNS,
            ([getattr(row, column) for column in PRESSURE_COLUMNS] for row in rows),
        )
    if table == "distribution":
        return csv_response(
            "contact-pressure-distribution.csv",
            ("contacts_per_stakeholder_period", "stakeholder_periods"),
            report.distribution,
        )
    if table == "episodes":
        return csv_response(
            "ping-pong-episodes.csv", ("period_start", "episodes"), report.episodes_by_period
        )
    if table == "affected":
        return csv_response(
            "ping-pong-affected.csv",
            AFFECTED_COLUMNS,
            ([getattr(row, column) for column in AFFECTED_COLUMNS] for row in report.affected),
        )
    raise FieldError(
        [{"type": "value_error", "loc": ["path", "table"], "input": table,
          "msg": "table is one of departments, channels, distribution, episodes, affected"}]
    )  # fmt: skip
