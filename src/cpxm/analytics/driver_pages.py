"""The key-drivers page (``/analytics/drivers``) and its CSV download."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from cpxm.analytics.charts import bars_spec, importance_performance_spec
from cpxm.analytics.drivers import (
    DEFAULT_TOUCHPOINT_DAYS,
    DriverReport,
    key_drivers,
    surveys_with_drivers,
)
from cpxm.analytics.export import csv_response
from cpxm.analytics.metric_pages import filter_options, query_string, selected_filters
from cpxm.analytics.params import DriverQueryParams, driver_query
from cpxm.analytics.service import report_cache
from cpxm.deps import DbSession
from cpxm.errors import FieldError
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False)

DRIVER_COLUMNS = (
    "kind", "code", "label", "weight", "importance_percent", "shapley_percent", "correlation",
    "performance", "performance_percent", "quadrant",
)  # fmt: skip


def driver_charts(report: DriverReport) -> dict[str, dict[str, Any]]:
    if not report.drivers:
        return {}
    charts = {
        "importance": bars_spec(
            [(driver.label, driver.importance_percent) for driver in report.drivers],
            title=f"Share of explained variance in {report.outcome_label} (%)",
        )
    }
    questions = [driver for driver in report.drivers if driver.kind == "question"]
    if questions:
        charts["matrix"] = importance_performance_spec(
            [
                {"label": d.label, "importance": d.importance_percent, "performance": d.performance}
                for d in questions
            ],
            title="Importance x performance",
        )
    return charts


@router.get("/analytics/drivers", response_class=HTMLResponse)
def drivers_page(
    request: Request,
    session: DbSession,
    survey: Annotated[str | None, Query()] = None,
    outcome_question_id: Annotated[int | None, Query()] = None,
    themes: Annotated[bool, Query()] = True,
    touchpoints: Annotated[bool, Query()] = True,
    touchpoint_days: Annotated[int, Query(ge=1, le=365)] = DEFAULT_TOUCHPOINT_DAYS,
    filters: Annotated[list[str], Query(alias="filter")] = [],  # noqa: B006
    date_from: Annotated[str | None, Query()] = None,
    date_to: Annotated[str | None, Query()] = None,
    min_n: Annotated[int, Query(ge=3)] = 50,
) -> Response:
    surveys = surveys_with_drivers(session)
    context: dict[str, Any] = {
        "surveys": surveys,
        "filter_options": filter_options(session),
        "params": request.query_params,
        "report": None,
        "errors": [],
        "charts": {},
        "query_string": query_string(request),
    }
    chosen = survey or (surveys[0][0] if surveys else None)
    if chosen is None:
        return templates.TemplateResponse(request, "analytics/drivers.html", context)
    try:
        query = driver_query(
            chosen, outcome_question_id, themes, filters, date_from, date_to, min_n,
            touchpoints, touchpoint_days,
        )  # fmt: skip
        context["selected"] = selected_filters(query.slice)
        report = report_cache(request.app.state).get(
            session, ("drivers", query), lambda: key_drivers(session, query)
        )
    except FieldError as error:
        context.update(errors=error.detail, selected={}, chosen=chosen)
        return templates.TemplateResponse(
            request, "analytics/drivers.html", context, status_code=422
        )
    context.update(report=report, charts=driver_charts(report), chosen=chosen)
    return templates.TemplateResponse(request, "analytics/drivers.html", context)


@router.get("/analytics/drivers/export/drivers.csv")
def drivers_csv(request: Request, session: DbSession, query: DriverQueryParams) -> Response:
    report = report_cache(request.app.state).get(
        session, ("drivers", query), lambda: key_drivers(session, query)
    )
    return csv_response(
        f"drivers-{query.survey}.csv",
        ("survey", "outcome", "n", "r_squared", *DRIVER_COLUMNS),
        (
            [query.survey, report.outcome_label, report.n, report.r_squared,
             *[getattr(driver, column) for column in DRIVER_COLUMNS]]
            for driver in report.drivers
        ),
    )  # fmt: skip
