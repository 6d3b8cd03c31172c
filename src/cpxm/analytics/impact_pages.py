"""The impact page (``/analytics/impact``) and its CSV download."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cpxm.analytics.charts import interval_bars_spec
from cpxm.analytics.export import csv_response
from cpxm.analytics.impact import ImpactReport, impact_report
from cpxm.analytics.metric_pages import (
    render_report_page,
    report_page_context,
)
from cpxm.analytics.params import ImpactQueryParams
from cpxm.analytics.service import report_cache
from cpxm.deps import DbSession
from cpxm.web.templating import humanise

router = APIRouter(include_in_schema=False)


def impact_charts(report: ImpactReport) -> dict[str, dict[str, Any]]:
    rows = [
        {
            "label": humanise(group.group),
            "value": group.mean_kpi,
            "low": group.ci_low,
            "high": group.ci_high,
            "n": group.stakeholders,
        }
        for group in report.groups
        if group.mean_kpi is not None and group.ci_low is not None and group.ci_high is not None
    ]
    if not rows:
        return {}
    return {
        "groups": interval_bars_spec(
            rows, title=f"Mean {humanise(report.kpi or '')} per period, by group (95% CI)"
        )
    }


@router.get("/analytics/impact", response_class=HTMLResponse)
def impact_page(request: Request, session: DbSession, query: ImpactQueryParams) -> Response:
    context = report_page_context(
        request, session, query, ("stakeholder_type", "country", "survey")
    )
    return render_report_page(
        request,
        "analytics/impact.html",
        context,
        lambda: report_cache(request.app.state).get(
            session, ("impact", query), lambda: impact_report(session, query)
        ),
        impact_charts,
    )


@router.get("/analytics/impact/export/impact.csv")
def impact_csv(request: Request, session: DbSession, query: ImpactQueryParams) -> Response:
    report = report_cache(request.app.state).get(
        session, ("impact", query), lambda: impact_report(session, query)
    )
    header = ("kpi", "metric", "row", "stakeholders", "estimate", "ci_low", "ci_high", "p_value")
    rows: list[list[Any]] = [
        [report.kpi, query.metric, "slope per score point", report.stakeholders, report.slope,
         report.ci_low, report.ci_high, report.p_value],
    ]  # fmt: skip
    rows += [
        [report.kpi, query.metric, f"mean KPI: {group.group}", group.stakeholders,
         group.mean_kpi, group.ci_low, group.ci_high, None]
        for group in report.groups
    ]  # fmt: skip
    return csv_response(f"impact-{report.kpi or 'none'}.csv", header, rows)
