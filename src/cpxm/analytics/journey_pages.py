"""The journeys page (``/analytics/journeys``) and its CSV downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cpxm.analytics.charts import bars_spec
from cpxm.analytics.export import csv_response
from cpxm.analytics.journeys import JourneyQuery, JourneyReport, journey_report, journeys
from cpxm.analytics.metric_pages import (
    render_report_page,
    report_page_context,
)
from cpxm.analytics.params import JourneyQueryParams
from cpxm.analytics.service import report_cache
from cpxm.deps import DbSession
from cpxm.errors import FieldError
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False)

STAGE_COLUMNS = (
    "code", "name", "position", "is_moment_of_truth", "reached", "reached_percent", "continued",
    "dropped", "drop_off_percent", "mean_days_to_next", "satisfied_continue_percent",
    "dissatisfied_continue_percent", "truth_effect", "truth_p_value",
)  # fmt: skip


def cached_journey_report(request: Request, session: Session, query: JourneyQuery) -> JourneyReport:
    return report_cache(request.app.state).get(
        session, ("journeys", query), lambda: journey_report(session, query)
    )


def journey_charts(report: JourneyReport) -> dict[str, dict[str, Any]]:
    charts: dict[str, dict[str, Any]] = {}
    if report.stakeholders:
        charts["funnel"] = bars_spec(
            [(stage.name, float(stage.reached)) for stage in report.stages],
            title="Stakeholders reaching each stage",
        )
    truths = [
        (stage.name, stage.truth_effect)
        for stage in report.stages
        if stage.truth_effect is not None
    ]
    if truths:
        charts["truth"] = bars_spec(
            truths, title="Points more likely to go on after a satisfied (vs dissatisfied) answer"
        )
    if report.peak_end.by_last_quality:
        charts["peak"] = bars_spec(
            [(f"last touch {label}", mean) for label, _, mean in report.peak_end.by_last_quality],
            title="Mean NPS answer (0-10) by the quality of the last touch before answering",
        )
    return charts


@router.get("/analytics/journeys", response_class=HTMLResponse)
def journeys_page(request: Request, session: DbSession, query: JourneyQueryParams) -> Response:
    context = report_page_context(request, session, query, ("stakeholder_type", "country"))
    context["journeys"] = journeys(session)
    if not context["journeys"]:
        return templates.TemplateResponse(request, "analytics/journeys.html", context)
    return render_report_page(
        request,
        "analytics/journeys.html",
        context,
        lambda: cached_journey_report(request, session, query),
        journey_charts,
    )


@router.get("/analytics/journeys/export/{table}.csv")
def journeys_csv(
    request: Request, table: str, session: DbSession, query: JourneyQueryParams
) -> Response:
    """``stages``, ``paths`` or ``peak-end``."""
    report = cached_journey_report(request, session, query)
    if table == "stages":
        return csv_response(
            f"journey-{report.journey_code}-stages.csv",
            STAGE_COLUMNS,
            ([getattr(stage, column) for column in STAGE_COLUMNS] for stage in report.stages),
        )
    if table == "paths":
        return csv_response(
            f"journey-{report.journey_code}-paths.csv",
            ("path", "stakeholders", "percent"),
            ((row.path, row.stakeholders, row.percent) for row in report.paths),
        )
    if table == "peak-end":
        return csv_response(
            "peak-end.csv",
            ("last_touch_quality", "answers", "mean_nps_answer"),
            report.peak_end.by_last_quality,
        )
    raise FieldError(
        [{"type": "value_error", "loc": ["path", "table"], "input": table,
          "msg": "table is one of stages, paths, peak-end"}]
    )  # fmt: skip
