"""Query-string parameters shared by the analytics API, pages and CSV exports."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from cpxm.analytics.coordination import CoordinationQuery
from cpxm.analytics.disengagement import DisengagementQuery
from cpxm.analytics.drivers import DEFAULT_TOUCHPOINT_DAYS, DriverQuery
from cpxm.analytics.facts import DIMENSIONS, GRAINS, Slice
from cpxm.analytics.impact import ImpactQuery
from cpxm.analytics.journeys import JourneyQuery
from cpxm.analytics.metrics import DEFAULT_MIN_N, METRICS, MetricQuery, parse_filters
from cpxm.analytics.speed import LateAnswerQuery, TimeToContactQuery
from cpxm.errors import FieldError, field_error

FilterList = Annotated[
    list[str],
    Query(
        alias="filter",
        description=(
            "Repeatable `dimension:value`, e.g. `filter=country:DE&filter=stakeholder_type:hcp`. "
            f"Dimensions: {', '.join(DIMENSIONS)}."
        ),
    ),
]


def slice_params(
    filters: FilterList = [],  # noqa: B006 - FastAPI copies query defaults
    date_from: Annotated[date | None, Query(description="First day included.")] = None,
    date_to: Annotated[date | None, Query(description="Last day included.")] = None,
) -> Slice:
    # A form's empty "any" choice arrives as an empty string.
    return Slice(parse_filters([item for item in filters if item]), date_from, date_to)


SliceParams = Annotated[Slice, Depends(slice_params)]


def metric_query_params(
    slice_: SliceParams,
    metric: Annotated[str, Query(description=f"One of {', '.join(METRICS)}.")] = "nps",
    question_id: Annotated[
        int | None, Query(description="A rating question (required for metric=rating).")
    ] = None,
    segment: Annotated[
        str | None, Query(description=f"Break down by one of {', '.join(DIMENSIONS)}.")
    ] = None,
    grain: Annotated[str | None, Query(description=f"Trend by {', '.join(GRAINS)}.")] = None,
    min_n: Annotated[
        int, Query(ge=1, le=100_000, description="Suppress groups with fewer answers.")
    ] = DEFAULT_MIN_N,
    correction: Annotated[
        str, Query(description="Multiple-comparison correction: holm or bh.")
    ] = "holm",
    alpha: Annotated[float, Query(gt=0, lt=1, description="Significance level.")] = 0.05,
) -> MetricQuery:
    return MetricQuery(
        metric=metric,
        question_id=question_id,
        segment=segment or None,
        grain=grain or None,
        slice=slice_,
        min_n=min_n,
        correction=correction,
        alpha=alpha,
    )


MetricQueryParams = Annotated[MetricQuery, Depends(metric_query_params)]


def driver_query(
    survey: str,
    outcome_question_id: int | None,
    include_themes: bool,
    filters: list[str],
    date_from: str | date | None,
    date_to: str | date | None,
    min_n: int,
    include_touchpoints: bool = True,
    touchpoint_days: int = DEFAULT_TOUCHPOINT_DAYS,
) -> DriverQuery:
    return DriverQuery(
        survey=survey,
        outcome_question_id=outcome_question_id,
        include_themes=include_themes,
        include_touchpoints=include_touchpoints,
        touchpoint_days=touchpoint_days,
        slice=Slice(
            parse_filters([item for item in filters if item]),
            _date(date_from, "date_from"),
            _date(date_to, "date_to"),
        ),
        min_n=min_n,
    )


def _date(value: str | date | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FieldError([field_error(name, "expected a date, YYYY-MM-DD", value)]) from None


def driver_query_params(
    survey: Annotated[str, Query(description="The survey's code.")],
    filters: FilterList = [],  # noqa: B006
    date_from: Annotated[date | None, Query()] = None,
    date_to: Annotated[date | None, Query()] = None,
    outcome_question_id: Annotated[
        int | None, Query(description="Default: the survey's NPS (else CSAT, else CES).")
    ] = None,
    themes: Annotated[bool, Query(description="Include feedback themes as drivers.")] = True,
    min_n: Annotated[int, Query(ge=3, description="Fewest complete responses to analyse.")] = 50,
    touchpoints: Annotated[
        bool, Query(description="Include contact with departments and channels as drivers.")
    ] = True,
    touchpoint_days: Annotated[
        int, Query(ge=1, le=365, description="Days before a response that count as exposure.")
    ] = DEFAULT_TOUCHPOINT_DAYS,
) -> DriverQuery:
    return driver_query(
        survey, outcome_question_id, themes, filters, date_from, date_to, min_n,
        touchpoints, touchpoint_days,
    )  # fmt: skip


DriverQueryParams = Annotated[DriverQuery, Depends(driver_query_params)]


def coordination_query_params(
    slice_: SliceParams,
    min_departments: Annotated[
        int, Query(ge=2, le=20, description="N: departments that make an episode.")
    ] = 3,
    window_days: Annotated[
        int, Query(ge=1, le=365, description="D: days within which they contact.")
    ] = 7,
    grain: Annotated[str, Query(description="Contact pressure per week, month or quarter.")] = (
        "month"
    ),
    outcome_survey: Annotated[
        str | None, Query(description="The NPS survey for the effect (default: all).")
    ] = None,
    as_of: Annotated[
        date | None, Query(description="'Now' for the affected list (default: latest contact).")
    ] = None,
    top: Annotated[int, Query(ge=1, le=500, description="Length of the affected list.")] = 25,
) -> CoordinationQuery:
    return CoordinationQuery(
        min_departments=min_departments,
        window_days=window_days,
        grain=grain,
        slice=slice_,
        outcome_survey=outcome_survey or None,
        as_of=as_of,
        top=top,
    )


CoordinationQueryParams = Annotated[CoordinationQuery, Depends(coordination_query_params)]


def journey_query_params(
    slice_: SliceParams,
    journey: Annotated[str | None, Query(description="A journey code (default: the first).")] = (
        None
    ),
    min_n: Annotated[
        int, Query(ge=1, description="Fewest answers per group for moments of truth.")
    ] = 30,
) -> JourneyQuery:
    return JourneyQuery(journey=journey or None, slice=slice_, min_n=min_n)


JourneyQueryParams = Annotated[JourneyQuery, Depends(journey_query_params)]


def impact_query_params(
    slice_: SliceParams,
    kpi: Annotated[str | None, Query(description="A KPI name in kpi_values.")] = None,
    metric: Annotated[str, Query(description="nps, csat or ces.")] = "nps",
    min_n: Annotated[int, Query(ge=3, description="Fewest stakeholders to estimate.")] = 30,
) -> ImpactQuery:
    return ImpactQuery(kpi=kpi or None, metric=metric, slice=slice_, min_n=min_n)


ImpactQueryParams = Annotated[ImpactQuery, Depends(impact_query_params)]


def time_to_contact_params(
    start_type: Annotated[str, Query(description="interaction_type that starts the clock.")],
    end_type: Annotated[str, Query(description="The first contact of this type after it.")],
    survey: Annotated[str, Query(description="The survey whose score is read afterwards.")],
    question_type: Annotated[str, Query(description="nps, csat or ces.")] = "csat",
    min_n: Annotated[int, Query(ge=3, description="Fewest answers for the slope.")] = 30,
) -> TimeToContactQuery:
    return TimeToContactQuery(start_type, end_type, survey, question_type, min_n)


TimeToContactParams = Annotated[TimeToContactQuery, Depends(time_to_contact_params)]


def late_answer_params(
    request_type: Annotated[str, Query(description="interaction_type of a request.")] = (
        "medical_inquiry"
    ),
    answer_type: Annotated[str, Query(description="interaction_type of its answer.")] = (
        "medical_inquiry_response"
    ),
    late_after_days: Annotated[float, Query(gt=0, description="Later than this is late.")] = 10.0,
    window_days: Annotated[
        int, Query(ge=1, le=730, description="Days after the answer whose contacts count.")
    ] = 90,
    as_of: Annotated[
        date | None, Query(description="End of observation (default: latest contact).")
    ] = None,
    min_n: Annotated[int, Query(ge=3, description="Fewest answers per group.")] = 30,
) -> LateAnswerQuery:
    return LateAnswerQuery(request_type, answer_type, late_after_days, window_days, as_of, min_n)


LateAnswerParams = Annotated[LateAnswerQuery, Depends(late_answer_params)]


def disengagement_params(
    recent_days: Annotated[int, Query(ge=7, le=730, description="The recent window.")] = 120,
    baseline_days: Annotated[
        int, Query(ge=7, le=1460, description="The window before it, to compare with.")
    ] = 365,
    max_ratio: Annotated[
        float, Query(ge=0, lt=1, description="Recent rate at most this share of the baseline.")
    ] = 0.35,
    min_baseline: Annotated[
        int, Query(ge=1, le=1_000_000, description="Fewest interactions in the baseline.")
    ] = 12,
    # A word, not any text: the type reaches the compiled SQL, where a NUL is an error (500).
    stakeholder_type: Annotated[
        str | None, Query(description="Only this type.", pattern=r"^[a-z_]{0,40}$")
    ] = None,
    as_of: Annotated[date | None, Query(description="Default: the latest contact.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Length of the list.")] = 100,
) -> DisengagementQuery:
    return DisengagementQuery(
        recent_days=recent_days,
        baseline_days=baseline_days,
        max_ratio=max_ratio,
        min_baseline=min_baseline,
        stakeholder_type=stakeholder_type or None,
        as_of=as_of,
        limit=limit,
    )


DisengagementParams = Annotated[DisengagementQuery, Depends(disengagement_params)]
