"""Vega-Lite specs for a survey's monitor, built with Altair from its day-by-day figures.

The page shows the same numbers in a table; the charts only make the shape visible.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import altair as alt

from cpxm.surveys.monitor import DayFigures

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
AXIS_COLOUR = "#5b6472"
Spec = dict[str, Any]
SERIES = (
    ("emailed", "Emailed"),
    ("opened", "Opened"),
    ("started", "Started"),
    ("completed", "Completed"),
)


def _configure(chart: alt.TopLevelMixin) -> Spec:
    spec: Spec = (
        chart.configure(font=FONT, background="transparent")
        .configure_view(stroke=None)
        .configure_axis(labelColor=AXIS_COLOUR, titleColor=AXIS_COLOUR, gridColor="#e6e9ef")
        .configure_legend(labelColor=AXIS_COLOUR, titleColor=AXIS_COLOUR, orient="bottom")
        .properties(width="container", height=220)
        .to_dict()
    )
    spec.pop("datasets", None)
    spec.pop("data", None)
    return spec


@cache
def _activity_template() -> Spec:
    return _configure(
        alt.Chart(title="Activity per day")
        .mark_bar()
        .encode(
            # Days as bands (one group of bars per day with activity), not a time scale on which
            # one day is a hairline.
            x=alt.X("day:O", title=None, axis=alt.Axis(labelAngle=0, labelOverlap=True)),
            xOffset=alt.XOffset("what:N", sort=[label for _k, label in SERIES]),
            y=alt.Y("count:Q", title="Count", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("what:N", title=None, sort=[label for _k, label in SERIES]),
            tooltip=[
                alt.Tooltip("day:O", title="Day"),
                alt.Tooltip("what:N", title="What"),
                alt.Tooltip("count:Q", title="Count", format=","),
            ],
        )
    )


@cache
def _rate_template() -> Spec:
    return _configure(
        alt.Chart(title="Response rate so far (complete / emailed)")
        .mark_line(point=True, color="#2456a6")
        .encode(
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%d %b", labelOverlap=True)),
            y=alt.Y("rate:Q", title="Response rate (%)", scale=alt.Scale(domain=[0, 100])),
            tooltip=[
                alt.Tooltip("day:T", title="Day", format="%Y-%m-%d"),
                alt.Tooltip("rate:Q", title="Response rate %", format=".1f"),
            ],
        )
    )


def activity_spec(days: list[DayFigures]) -> Spec | None:
    if not days:
        return None
    values = [
        {"day": row.day.isoformat(), "what": label, "count": getattr(row, key)}
        for row in days
        for key, label in SERIES
    ]
    spec = copy.deepcopy(_activity_template())
    spec["data"] = {"values": values}
    return spec


def response_rate_spec(days: list[DayFigures]) -> Spec | None:
    values = [
        {"day": row.day.isoformat(), "rate": round(row.response_rate, 2)}
        for row in days
        if row.response_rate is not None
    ]
    if not values:
        return None
    spec = copy.deepcopy(_rate_template())
    spec["data"] = {"values": values}
    return spec
