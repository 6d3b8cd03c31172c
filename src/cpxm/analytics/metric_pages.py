"""The metrics page (``/analytics/metrics``): a score by segment and over time, its drill-down
to the answers behind each figure, and CSV downloads of every table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.access import CommercialReader
from cpxm.analytics.charts import interval_bars_spec, trend_spec
from cpxm.analytics.drilldown import responses_for_viewer
from cpxm.analytics.export import csv_response
from cpxm.analytics.facts import DIMENSIONS, GRAINS, Slice, dimension_labels
from cpxm.analytics.metrics import (
    METRICS,
    MetricCell,
    MetricQuery,
    MetricReport,
    metric_report,
    rating_questions,
)
from cpxm.analytics.params import MetricQueryParams
from cpxm.analytics.service import report_cache
from cpxm.deps import DbSession
from cpxm.errors import FieldError
from cpxm.pagination import Pagination
from cpxm.stakeholders.models import STAKEHOLDER_TYPES
from cpxm.web.templating import humanise, templates

router = APIRouter(include_in_schema=False)

FILTER_DIMENSIONS = (
    "stakeholder_type",
    "country",
    "survey",
    "channel",
    "department",
    "therapeutic_area",
    "product",
    "lifecycle_phase",
    "journey_stage",
)
CELL_COLUMNS = (
    "key", "label", "n", "suppressed", "value", "ci_low", "ci_high", "mean", "promoters_percent",
    "detractors_percent", "invitations", "response_rate", "compared_with", "difference",
    "p_value", "adjusted_p", "significant",
)  # fmt: skip


def cached_metric_report(request: Request, session: Session, query: MetricQuery) -> MetricReport:
    """The report from the app's cache while the data is unchanged (a page, its CSV and the API
    share it)."""
    return report_cache(request.app.state).get(
        session, ("metrics", query), lambda: metric_report(session, query)
    )


def query_string(request: Request, **overrides: str | None) -> str:
    """The request's query string with some parameters replaced (None removes them)."""
    items = [
        (key, value) for key, value in request.query_params.multi_items() if key not in overrides
    ]
    items.extend((key, value) for key, value in overrides.items() if value is not None)
    return urlencode(items)


def filter_options(session: Session) -> list[dict[str, Any]]:
    """Each filterable dimension with its values, for the filter form."""
    options = []
    for dimension in FILTER_DIMENSIONS:
        if dimension == "stakeholder_type":
            values = [(code, humanise(code)) for code in STAKEHOLDER_TYPES]
        else:
            labels = dimension_labels(session, dimension)
            values = sorted(labels.items(), key=lambda item: item[1])
        options.append({"dimension": dimension, "label": humanise(dimension), "values": values})
    return options


def selected_filters(slice_: Slice) -> dict[str, str]:
    return dict(slice_.filters)


def _chart_rows(cells: list[MetricCell], *, period: bool = False) -> list[dict[str, Any]]:
    return [
        {
            ("period" if period else "label"): cell.key if period else cell.label,
            "value": cell.value,
            "low": cell.ci_low,
            "high": cell.ci_high,
            "n": cell.n,
            "significant": cell.significant,
        }
        for cell in cells
        if not cell.suppressed and cell.value is not None
    ]


def metric_charts(report: MetricReport) -> dict[str, dict[str, Any]]:
    charts: dict[str, dict[str, Any]] = {}
    domain = (-100.0, 100.0) if report.query.metric == "nps" else None
    segment_rows = _chart_rows(report.segments)
    if segment_rows:
        charts["segments"] = interval_bars_spec(
            segment_rows,
            title=f"{report.metric_label} by {humanise(report.query.segment or '')} (95% CI)",
            domain=domain,
        )
    trend_rows = _chart_rows(report.trend, period=True)
    if trend_rows:
        charts["trend"] = trend_spec(
            trend_rows,
            title=f"{report.metric_label} by {report.query.grain} (95% CI)",
            grain=report.query.grain or "month",
        )
    return charts


R = TypeVar("R")


def report_page_context(
    request: Request, session: Session, query: Any, dimensions: tuple[str, ...]
) -> dict[str, Any]:
    """What every report page's template starts from: filters limited to ``dimensions``."""
    return {
        "filter_options": [
            option for option in filter_options(session) if option["dimension"] in dimensions
        ],
        "params": request.query_params,
        "query": query,
        "selected": selected_filters(query.slice),
        "query_string": query_string(request),
        "report": None,
        "errors": [],
        "charts": {},
    }


def render_report_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    build: Callable[[], R],
    charts: Callable[[R], dict[str, Any]],
) -> Response:
    """The page with its report and charts, or with the filter errors (422) it cannot build."""
    try:
        report = build()
    except FieldError as error:
        context["errors"] = error.detail
        return templates.TemplateResponse(request, template, context, status_code=422)
    context.update(report=report, charts=charts(report))
    return templates.TemplateResponse(request, template, context)


def form_context(request: Request, session: Session) -> dict[str, Any]:
    return {
        "metrics": METRICS,
        "dimensions": DIMENSIONS,
        "grains": list(GRAINS),
        "filter_options": filter_options(session),
        "questions": rating_questions(session),
        "params": request.query_params,
    }


@router.get("/analytics/metrics", response_class=HTMLResponse)
def metrics_page(request: Request, session: DbSession, query: MetricQueryParams) -> Response:
    context: dict[str, Any] = form_context(request, session)
    context["selected"] = selected_filters(query.slice)
    context["query"] = query
    try:
        report = cached_metric_report(request, session, query)
    except FieldError as error:
        context.update(report=None, errors=error.detail, charts={})
        return templates.TemplateResponse(
            request, "analytics/metrics.html", context, status_code=422
        )
    context.update(
        report=report,
        errors=[],
        charts=metric_charts(report),
        query_string=query_string(request),
        drill=lambda **keys: "/analytics/metrics/responses?" + query_string(request, **keys),
        # The rate counts emailed invitations; a wave just made (or with mail not configured)
        # has none yet, which the page says rather than "no invitations".
        unsent_invitations=_unsent_invitations(session) if not report.overall.invitations else 0,
    )
    return templates.TemplateResponse(request, "analytics/metrics.html", context)


def _unsent_invitations(session: Session) -> int:
    from cpxm.surveys.models import Invitation

    return int(
        session.scalar(
            select(func.count(Invitation.id)).where(
                Invitation.status == "pending", Invitation.sent_at.is_(None)
            )
        )
        or 0
    )


@router.get("/analytics/metrics/export/{table}.csv")
def metrics_csv(
    request: Request, table: str, session: DbSession, query: MetricQueryParams
) -> Response:
    """``segments``, ``trend`` or ``overall`` as CSV."""
    report = cached_metric_report(request, session, query)
    cells = {"segments": report.segments, "trend": report.trend, "overall": [report.overall]}
    if table not in cells:
        raise FieldError(
            [{"type": "value_error", "loc": ["path", "table"],
              "msg": "table is one of segments, trend, overall", "input": table}]
        )  # fmt: skip
    rows = [[getattr(cell, column) for column in CELL_COLUMNS] for cell in cells[table]]
    return csv_response(f"{query.metric}-{table}.csv", ("metric", *CELL_COLUMNS), (
        [query.metric, *row] for row in rows
    ))  # fmt: skip


@router.get("/analytics/metrics/responses", response_class=HTMLResponse)
def metric_responses_page(
    request: Request,
    session: DbSession,
    principal: CommercialReader,
    query: MetricQueryParams,
    page: Pagination,
    segment_key: Annotated[str | None, Query()] = None,
    period_key: Annotated[str | None, Query()] = None,
) -> Response:
    rows, total = responses_for_viewer(
        session,
        principal,
        query=query,
        segment_key=segment_key,
        period_key=period_key,
        limit=page.limit,
        offset=page.offset,
    )
    context = {
        "rows": rows,
        "total": total,
        "page": page,
        "query": query,
        "segment_key": segment_key,
        "period_key": period_key,
        "segment_label": dimension_labels(session, query.segment).get(
            segment_key or "", segment_key
        )
        if query.segment
        else None,
        "query_string": query_string(request),
        "next_page": query_string(request, offset=str(page.offset + page.limit)),
        "previous_page": query_string(request, offset=str(max(0, page.offset - page.limit))),
        "back": "/analytics/metrics?"
        + query_string(request, segment_key=None, period_key=None, offset=None, limit=None),
    }
    return templates.TemplateResponse(request, "analytics/responses.html", context)


@router.get("/analytics/metrics/responses.csv")
def metric_responses_csv(
    session: DbSession,
    principal: CommercialReader,
    query: MetricQueryParams,
    segment_key: Annotated[str | None, Query()] = None,
    period_key: Annotated[str | None, Query()] = None,
) -> Response:
    """Every answer behind one figure (up to 100,000), as CSV."""
    rows, _ = responses_for_viewer(
        session,
        principal,
        query=query,
        segment_key=segment_key,
        period_key=period_key,
        limit=100_000,
    )
    header = ("response_id", "answered_at", "survey", "stakeholder_id", "stakeholder_key",
              "stakeholder", "stakeholder_type", "question_type", "value", "comment")  # fmt: skip
    return csv_response(
        "responses.csv", header, ([getattr(row, column) for column in header] for row in rows)
    )
