"""Vega-Lite specs for the overview, built with Altair from the small aggregated tables.

Altair validates as it builds (tens of milliseconds a chart), so each chart's encoding is built
and validated once per process as a template; a request only copies it and inlines its data (a
few hundred rows at most), so a page needs no extra request per chart.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache
from typing import Any

import altair as alt

from cpxm.analytics.service import ALL_STAKEHOLDERS, ScoreSummary
from cpxm.web.templating import humanise

# The page's palette and type, so charts and HTML read as one thing.
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
ACCENT = "#2456a6"
AXIS_COLOUR = "#5b6472"
CHART_HEIGHT = 260
ROW_HEIGHT = 26

Spec = dict[str, Any]


def _configure(chart: alt.TopLevelMixin) -> Spec:
    configured = (
        chart.configure(font=FONT, background="transparent")
        .configure_view(stroke=None)
        .configure_axis(
            labelColor=AXIS_COLOUR, titleColor=AXIS_COLOUR, gridColor="#e6e9ef", domain=False
        )
        .configure_legend(labelColor=AXIS_COLOUR, titleColor=AXIS_COLOUR, orient="bottom")
        .properties(width="container")
    )
    spec: Spec = configured.to_dict()
    return spec


def _with_data(template: Spec, values: list[dict[str, Any]], **properties: Any) -> Spec:
    spec = copy.deepcopy(template)
    # Altair gives data-less charts a placeholder dataset, per layer; drop it so every layer
    # reads the inlined values.
    spec.pop("datasets", None)
    for layer in spec.get("layer", []):
        layer.pop("data", None)
    spec["data"] = {"values": values}
    spec.update(properties)
    return spec


@cache
def _stakeholders_template() -> Spec:
    return _configure(
        alt.Chart(title="Stakeholders by type")
        .mark_bar(color=ACCENT, cornerRadiusEnd=3)
        .encode(
            y=alt.Y("type:N", sort="-x", title=None),
            x=alt.X("stakeholders:Q", title="Stakeholders"),
            tooltip=[
                alt.Tooltip("type:N", title="Type"),
                alt.Tooltip("stakeholders:Q", title="Stakeholders", format=","),
            ],
        )
    )


def stakeholders_by_type_spec(rows: list[tuple[str, int]]) -> Spec:
    """Horizontal bars, largest type on top."""
    values = [{"type": humanise(type_), "stakeholders": n} for type_, n in rows]
    return _with_data(_stakeholders_template(), values, height=max(120, ROW_HEIGHT * len(rows)))


@cache
def _monthly_template(dimension: str, title: str) -> Spec:
    return _configure(
        alt.Chart(title=title)
        .mark_bar()
        .encode(
            x=alt.X(
                "yearmonth(month):O",
                title=None,
                axis=alt.Axis(format="%b %y", labelAngle=-45, labelOverlap=True),
            ),
            y=alt.Y("sum(interactions):Q", title="Interactions"),
            color=alt.Color(
                f"{dimension}:N", title=dimension.title(), scale=alt.Scale(scheme="tableau10")
            ),
            tooltip=[
                alt.Tooltip("yearmonth(month):T", title="Month", format="%B %Y"),
                alt.Tooltip(f"{dimension}:N", title=dimension.title()),
                alt.Tooltip("sum(interactions):Q", title="Interactions", format=","),
            ],
        )
        .properties(height=CHART_HEIGHT)
    )


def monthly_interactions_spec(
    rows: list[tuple[str, str, int]], *, dimension: str, title: str
) -> Spec:
    """Stacked monthly bars of interactions, one colour per channel or department."""
    values = [
        {"month": f"{month}-01", dimension: humanise(key), "interactions": n}
        for month, key, n in rows
    ]
    return _with_data(_monthly_template(dimension, title), values)


@cache
def _nps_template() -> Spec:
    base = alt.Chart()
    # Rows arrive sorted by NPS; keeping data order spares the layers conflicting sort rules.
    y = alt.Y("segment:N", sort=None, title=None)
    bars = base.mark_bar(color=ACCENT, opacity=0.85).encode(
        y=y,
        x=alt.X("nps:Q", title="NPS", scale=alt.Scale(domain=[-100, 100])),
        tooltip=[
            alt.Tooltip("segment:N", title="Type"),
            alt.Tooltip("nps:Q", title="NPS"),
            alt.Tooltip("low:Q", title="95% low"),
            alt.Tooltip("high:Q", title="95% high"),
            alt.Tooltip("n:Q", title="Answers", format=","),
        ],
    )
    interval = base.mark_rule(color="#1d2430", strokeWidth=1.5).encode(y=y, x="low:Q", x2="high:Q")
    return _configure(alt.layer(bars, interval, title="NPS by stakeholder type (95% interval)"))


def nps_by_type_spec(scores: list[ScoreSummary]) -> Spec:
    """NPS per stakeholder type with its 95% interval, so small groups read as uncertain."""
    values = [
        {
            "segment": humanise(score.segment),
            "nps": round(score.value, 1),
            "low": round(score.ci_low if score.ci_low is not None else score.value, 1),
            "high": round(score.ci_high if score.ci_high is not None else score.value, 1),
            "n": score.n,
        }
        for score in sorted(scores, key=lambda score: -(score.value or 0.0))
        if score.value is not None and score.segment != ALL_STAKEHOLDERS
    ]
    return _with_data(_nps_template(), values, height=max(120, ROW_HEIGHT * len(values)))


SIGNIFICANT_COLOUR = "#c2410c"
QUIET_COLOUR = "#9aa5b5"


@cache
def _interval_bars_template() -> Spec:
    base = alt.Chart()
    y = alt.Y("label:N", sort=None, title=None)
    colour = alt.Color(
        "flag:N",
        title=None,
        scale=alt.Scale(
            domain=["significantly different", "not significantly different"],
            range=[SIGNIFICANT_COLOUR, ACCENT],
        ),
    )
    bars = base.mark_bar(opacity=0.85, cornerRadiusEnd=2).encode(
        y=y,
        x=alt.X("value:Q", title=None),
        color=colour,
        tooltip=[
            alt.Tooltip("label:N", title="Segment"),
            alt.Tooltip("value:Q", title="Value", format=".1f"),
            alt.Tooltip("low:Q", title="95% low", format=".1f"),
            alt.Tooltip("high:Q", title="95% high", format=".1f"),
            alt.Tooltip("n:Q", title="Answers", format=","),
        ],
    )
    interval = base.mark_rule(color="#1d2430", strokeWidth=1.5).encode(y=y, x="low:Q", x2="high:Q")
    return _configure(alt.layer(bars, interval))


def interval_bars_spec(
    rows: list[dict[str, Any]], *, title: str, domain: tuple[float, float] | None = None
) -> Spec:
    """Horizontal bars with their 95% intervals; a bar is orange only when its difference from
    the rest survived the multiple-comparison correction. Rows: label, value, low, high, n,
    significant."""
    values = [
        {
            "label": row["label"],
            "value": round(row["value"], 2),
            "low": round(row["low"], 2),
            "high": round(row["high"], 2),
            "n": row["n"],
            "flag": "significantly different"
            if row.get("significant")
            else "not significantly different",
        }
        for row in rows
    ]
    spec = _with_data(
        _interval_bars_template(), values, height=max(120, ROW_HEIGHT * len(values)), title=title
    )
    if domain is not None:
        for layer in spec["layer"]:
            if "x" in layer.get("encoding", {}) and "scale" not in layer["encoding"]["x"]:
                layer["encoding"]["x"]["scale"] = {"domain": list(domain)}
    return spec


@cache
def _trend_template() -> Spec:
    base = alt.Chart()
    x = alt.X("period:T", title=None, axis=alt.Axis(format="%b %y", labelAngle=-45))
    band = base.mark_area(opacity=0.18, color=ACCENT).encode(
        x=x, y=alt.Y("low:Q", title=None, scale=alt.Scale(zero=False)), y2="high:Q"
    )
    line = base.mark_line(color=ACCENT, point=True).encode(
        x=x,
        y=alt.Y("value:Q"),
        tooltip=[
            alt.Tooltip("period:T", title="Period start", format="%d %b %Y"),
            alt.Tooltip("value:Q", title="Value", format=".1f"),
            alt.Tooltip("low:Q", title="95% low", format=".1f"),
            alt.Tooltip("high:Q", title="95% high", format=".1f"),
            alt.Tooltip("n:Q", title="Answers", format=","),
        ],
    )
    flagged = (
        base.mark_point(color=SIGNIFICANT_COLOUR, size=110, shape="diamond", filled=True)
        .encode(x=x, y="value:Q")
        .transform_filter("datum.significant")
    )
    return _configure(alt.layer(band, line, flagged).properties(height=CHART_HEIGHT))


# Each grain's axis: one tick per period at most, labelled once ("Mar 24" never twice).
_GRAIN_AXES = {
    "week": ({"interval": "week", "step": 1}, "%d %b"),
    "month": ({"interval": "month", "step": 1}, "%b %y"),
    "quarter": ({"interval": "month", "step": 3}, "Q%q %Y"),
}


def _next_period(day: date, grain: str) -> date:
    if grain == "week":
        return day + timedelta(days=7)
    months = 3 if grain == "quarter" else 1
    month_index = day.year * 12 + day.month - 1 + months
    return date(month_index // 12, month_index % 12 + 1, 1)


def _with_gaps(values: list[dict[str, Any]], grain: str) -> list[dict[str, Any]]:
    """``values`` with an empty row for each period without a figure (none, or suppressed), so
    the line breaks there instead of drawing across months without data."""
    if grain not in _GRAIN_AXES or len(values) < 2:
        return values
    by_period = {str(row["period"])[:10]: row for row in values}
    days = sorted(date.fromisoformat(period) for period in by_period)
    filled: list[dict[str, Any]] = []
    day = days[0]
    while day <= days[-1] and len(filled) < 10_000:
        key = day.isoformat()
        filled.append(
            by_period.get(key)
            or {
                "period": key,
                "value": None,
                "low": None,
                "high": None,
                "n": 0,
                "significant": False,
            }
        )
        day = _next_period(day, grain)
    # Periods that do not fall on the grain's steps (an odd start) are kept as they are.
    known = {row["period"] for row in filled}
    filled.extend(row for period, row in by_period.items() if period not in known)
    return sorted(filled, key=lambda row: str(row["period"]))


def trend_spec(rows: list[dict[str, Any]], *, title: str, grain: str = "month") -> Spec:
    """A line over periods with its 95% band; diamonds mark significant changes from the
    period before. Rows: period (YYYY-MM-DD), value, low, high, n, significant. A period
    missing from ``rows`` breaks the line; the axis has one label per ``grain`` at most."""
    values = [
        {
            "period": row["period"],
            "value": round(row["value"], 2),
            "low": round(row["low"], 2),
            "high": round(row["high"], 2),
            "n": row["n"],
            "significant": bool(row.get("significant")),
        }
        for row in rows
    ]
    spec = _with_data(_trend_template(), _with_gaps(values, grain), title=title)
    ticks, label_format = _GRAIN_AXES.get(grain, _GRAIN_AXES["month"])
    for layer in spec.get("layer", []):
        x = layer.get("encoding", {}).get("x")
        if isinstance(x, dict):
            axis = x.setdefault("axis", {})
            axis.update({"format": label_format, "tickCount": ticks, "labelOverlap": True})
    return spec


@cache
def _scatter_template() -> Spec:
    chart = (
        alt.Chart()
        .mark_circle(size=120, color=ACCENT, opacity=0.85)
        .encode(
            x=alt.X("importance:Q", title="Importance (share of explained variance, %)"),
            y=alt.Y(
                "performance:Q", title="Performance (mean rating)", scale=alt.Scale(zero=False)
            ),
            tooltip=[
                alt.Tooltip("label:N", title="Driver"),
                alt.Tooltip("importance:Q", title="Importance %", format=".1f"),
                alt.Tooltip("performance:Q", title="Mean rating", format=".2f"),
            ],
        )
    )
    labels = (
        alt.Chart()
        .mark_text(align="left", dx=8, color="#1d2430")
        .encode(x="importance:Q", y="performance:Q", text="label:N")
    )
    return _configure(alt.layer(chart, labels).properties(height=CHART_HEIGHT + 40))


def importance_performance_spec(rows: list[dict[str, Any]], *, title: str) -> Spec:
    """Drivers placed by importance and performance: high importance and low performance is
    where to act first. Rows: label, importance (percent), performance."""
    values = [
        {
            "label": row["label"],
            "importance": round(row["importance"], 2),
            "performance": round(row["performance"], 3),
        }
        for row in rows
    ]
    return _with_data(_scatter_template(), values, title=title)


@cache
def _simple_bars_template(horizontal: bool) -> Spec:
    if horizontal:
        encoding = {
            "y": alt.Y("label:N", sort=None, title=None),
            "x": alt.X("value:Q", title=None),
        }
    else:
        encoding = {
            "x": alt.X("label:N", sort=None, title=None, axis=alt.Axis(labelAngle=-30)),
            "y": alt.Y("value:Q", title=None),
        }
    return _configure(
        alt.Chart()
        .mark_bar(color=ACCENT, cornerRadiusEnd=2)
        .encode(
            **encoding,
            tooltip=[
                alt.Tooltip("label:N", title="Item"),
                alt.Tooltip("value:Q", title="Value", format=",.2f"),
            ],
        )
    )


def bars_spec(rows: Sequence[tuple[str, float]], *, title: str, horizontal: bool = True) -> Spec:
    """Plain bars of (label, value), in the given order."""
    values = [{"label": label, "value": round(value, 3)} for label, value in rows]
    height = max(120, ROW_HEIGHT * len(values)) if horizontal else CHART_HEIGHT
    return _with_data(_simple_bars_template(horizontal), values, height=height, title=title)
