"""Vega-Lite specs for the overview, built with Altair from the small aggregated tables.

Altair validates as it builds (tens of milliseconds a chart), so each chart's encoding is built
and validated once per process as a template; a request only copies it and inlines its data (a
few hundred rows at most), so a page needs no extra request per chart.
"""

from __future__ import annotations

import copy
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
