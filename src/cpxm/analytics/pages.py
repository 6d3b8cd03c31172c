"""The workspace overview page (``/``): who we serve, how we reach them, and how it feels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from cpxm.access import AGGREGATES, requires
from cpxm.analytics.charts import (
    monthly_interactions_spec,
    nps_by_type_spec,
    stakeholders_by_type_spec,
)
from cpxm.analytics.coordination_pages import router as coordination_pages_router
from cpxm.analytics.driver_pages import router as driver_pages_router
from cpxm.analytics.impact_pages import router as impact_pages_router
from cpxm.analytics.journey_pages import router as journey_pages_router
from cpxm.analytics.metric_pages import router as metric_pages_router
from cpxm.analytics.service import ALL_STAKEHOLDERS, Overview, OverviewCache, ScoreSummary
from cpxm.deps import DbSession
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[requires(AGGREGATES)])


@dataclass(frozen=True)
class MonthlyTable:
    """Interactions as a month x key matrix, keys by total descending, for the table view."""

    keys: list[str]
    totals: list[int]
    months: list[str]
    cells: list[list[int]]  # one row per month, one cell per key

    @property
    def grand_total(self) -> int:
        return sum(self.totals)


@dataclass(frozen=True)
class SegmentScores:
    segment: str
    nps: ScoreSummary | None
    csat: ScoreSummary | None
    ces: ScoreSummary | None


def monthly_table(rows: list[tuple[str, str, int]]) -> MonthlyTable:
    totals: dict[str, int] = {}
    counts: dict[tuple[str, str], int] = {}
    for month, key, count in rows:
        totals[key] = totals.get(key, 0) + count
        counts[(month, key)] = count
    keys = sorted(totals, key=lambda key: (-totals[key], key))
    months = sorted({month for month, _, _ in rows})
    return MonthlyTable(
        keys=keys,
        totals=[totals[key] for key in keys],
        months=months,
        cells=[[counts.get((month, key), 0) for key in keys] for month in months],
    )


def segment_scores(overview: Overview) -> list[SegmentScores]:
    """Scores side by side per stakeholder type, the overall row first, then by answers."""
    by_metric = {
        metric: {score.segment: score for score in overview.scores_for(metric)}
        for metric in ("nps", "csat", "ces")
    }
    answers: dict[str, int] = {}
    for scores in by_metric.values():
        for segment, score in scores.items():
            answers[segment] = answers.get(segment, 0) + score.n
    segments = sorted(
        (segment for segment, n in answers.items() if n > 0 or segment == ALL_STAKEHOLDERS),
        key=lambda segment: (segment != ALL_STAKEHOLDERS, -answers[segment], segment),
    )
    return [
        SegmentScores(
            segment=segment,
            nps=by_metric["nps"].get(segment),
            csat=by_metric["csat"].get(segment),
            ces=by_metric["ces"].get(segment),
        )
        for segment in segments
    ]


def overview_context(overview: Overview) -> dict[str, Any]:
    """Everything the template shows: the numbers for tables and the chart specs."""
    by_channel = overview.interactions_by("channel")
    by_department = overview.interactions_by("department")
    headline = {metric: overview.scores_for(metric)[0] for metric in ("nps", "csat", "ces")}
    charts: dict[str, dict[str, Any]] = {}
    if overview.stakeholders_by_type:
        charts["stakeholders"] = stakeholders_by_type_spec(overview.stakeholders_by_type)
    if by_channel:
        charts["channels"] = monthly_interactions_spec(
            by_channel, dimension="channel", title="Interactions per month by channel"
        )
        charts["departments"] = monthly_interactions_spec(
            by_department, dimension="department", title="Interactions per month by department"
        )
    if headline["nps"].n:
        charts["nps"] = nps_by_type_spec(overview.scores_for("nps"))
    return {
        "overview": overview,
        "is_empty": not (overview.total_stakeholders or overview.total_interactions),
        "headline": headline,  # customer scores; the employee pulse is apart, as eNPS
        "employee_nps": overview.employee_nps,
        "channels": monthly_table(by_channel),
        "departments": monthly_table(by_department),
        "segments": segment_scores(overview),
        "charts": charts,
    }


def warm_up(session: Session, cache: OverviewCache) -> None:
    """Compute the aggregates, chart templates and page template before the first visitor asks."""
    overview_context(cache.get(session))
    templates.get_template("analytics/overview.html")


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, session: DbSession) -> HTMLResponse:
    cache: OverviewCache = request.app.state.overview_cache
    context = overview_context(cache.get(session))
    return templates.TemplateResponse(request, "analytics/overview.html", context)


# The other analytics pages live in their own modules; the app includes this one router.
router.include_router(metric_pages_router)
router.include_router(driver_pages_router)
router.include_router(coordination_pages_router)
router.include_router(journey_pages_router)
router.include_router(impact_pages_router)
