"""Query-string parameters shared by the analytics API, pages and CSV exports."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from cpxm.analytics.facts import DIMENSIONS, GRAINS, Slice
from cpxm.analytics.metrics import DEFAULT_MIN_N, METRICS, MetricQuery, parse_filters

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
