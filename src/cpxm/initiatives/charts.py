"""Vega-Lite specs for the backlog, Kano and before/after, built with Altair from small tables."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import altair as alt

from cpxm.analytics.charts import ACCENT, AXIS_COLOUR, FONT, interval_bars_spec
from cpxm.initiatives.evidence import BeforeAfter
from cpxm.initiatives.kano import CATEGORY_NAMES, KanoReport
from cpxm.initiatives.service import BacklogRow

Spec = dict[str, Any]
# Must-be red, one-dimensional blue, attractive green, indifferent grey, reverse and
# questionable muted: the colours Kano diagrams usually use.
KANO_COLOURS = {
    "Must-be": "#c0392b",
    "One-dimensional": ACCENT,
    "Attractive": "#2e8b57",
    "Indifferent": "#9aa3af",
    "Reverse": "#8e6c8a",
    "Questionable": "#c8b273",
}


def _configure(chart: alt.TopLevelMixin, values: list[dict[str, Any]]) -> Spec:
    """The chart's spec with its rows inlined (built without data: Altair's Data is untyped)."""
    spec: Spec = (
        chart.configure(font=FONT, background="transparent")
        .configure_view(stroke=None)
        .configure_axis(labelColor=AXIS_COLOUR, titleColor=AXIS_COLOUR, gridColor="#e6e9ef")
        .configure_legend(labelColor=AXIS_COLOUR, titleColor=AXIS_COLOUR, orient="bottom")
        .properties(width="container")
        .to_dict()
    )
    spec["data"] = {"values": values}
    return spec


def _inlined(template: Spec, values: list[dict[str, Any]], **properties: Any) -> Spec:
    """A copy of a template built (and validated by Altair) once, with this view's rows."""
    spec = copy.deepcopy(template)
    spec["data"] = {"values": values}
    spec.update(properties)
    return spec


def rice_spec(rows: list[BacklogRow]) -> Spec | None:
    if not rows:
        return None
    values = [
        {"initiative": row.title, "rice": round(row.rice, 2), "moscow": row.moscow} for row in rows
    ]
    return _inlined(_rice_template(), values, height=max(80, 26 * len(rows)))


@cache
def _rice_template() -> Spec:
    chart = (
        alt.Chart(title="RICE score")
        .mark_bar(color=ACCENT)
        .encode(
            y=alt.Y("initiative:N", sort="-x", title=None),
            x=alt.X("rice:Q", title="Reach x Impact x Confidence / Effort"),
            tooltip=["initiative:N", "rice:Q", "moscow:N"],
        )
    )
    return _configure(chart, [])


def kano_scatter_spec(report: KanoReport) -> Spec | None:
    points = [
        {
            "feature": feature.label,
            "better": round(feature.better, 3),
            "worse": round(-feature.worse, 3),
            "category": CATEGORY_NAMES[feature.category],
            "n": feature.n,
        }
        for feature in report.features
        if feature.better is not None and feature.worse is not None and feature.category
    ]
    if not points:
        return None
    return _inlined(_kano_scatter_template(), points)


@cache
def _kano_scatter_template() -> Spec:
    base = alt.Chart()
    scale = alt.Scale(domain=[0, 1])
    dots = base.mark_circle(size=140, opacity=0.9).encode(
        x=alt.X("worse:Q", scale=scale, title="Dissatisfaction if absent (|Worse|)"),
        y=alt.Y("better:Q", scale=scale, title="Satisfaction if present (Better)"),
        color=alt.Color(
            "category:N",
            title="Category",
            scale=alt.Scale(domain=list(KANO_COLOURS), range=list(KANO_COLOURS.values())),
        ),
        tooltip=["feature:N", "category:N", "better:Q", "worse:Q", "n:Q"],
    )
    labels = base.mark_text(align="left", dx=9, fontSize=11, color=AXIS_COLOUR).encode(
        x="worse:Q", y="better:Q", text="feature:N"
    )
    rule = alt.Chart().mark_rule(strokeDash=[4, 4], color="#9aa3af")
    rules = rule.encode(x=alt.datum(0.5)) + rule.encode(y=alt.datum(0.5))
    chart = alt.layer(rules, dots, labels).properties(
        height=320, title="Kano: Better against |Worse| per feature"
    )
    return _configure(chart, [])


def kano_shares_spec(report: KanoReport) -> Spec | None:
    rows = [
        {"feature": feature.label, "category": CATEGORY_NAMES[code], "share": round(share, 1)}
        for feature in report.features
        if not feature.suppressed
        for code, share in feature.shares.items()
        if share
    ]
    if not rows:
        return None
    return _inlined(_kano_shares_template(), rows, height=max(80, 30 * len(report.features)))


@cache
def _kano_shares_template() -> Spec:
    chart = (
        alt.Chart(title="Kano categories (% of answers)")
        .mark_bar()
        .encode(
            y=alt.Y("feature:N", title=None),
            x=alt.X("share:Q", title="% of answers", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color(
                "category:N",
                title="Category",
                scale=alt.Scale(domain=list(KANO_COLOURS), range=list(KANO_COLOURS.values())),
            ),
            tooltip=["feature:N", "category:N", "share:Q"],
        )
    )
    return _configure(chart, [])


def before_after_specs(result: BeforeAfter) -> list[Spec]:
    """One chart per compared metric (their scales differ), before and after with intervals."""
    specs = []
    for comparison in result.comparisons:
        rows = [
            {"label": period, "value": value, "low": interval[0], "high": interval[1], "n": n}
            for period, value, interval, n in (
                ("Before", comparison.before, comparison.before_ci, comparison.before_n),
                ("After", comparison.after, comparison.after_ci, comparison.after_n),
            )
            if value is not None and interval is not None
        ]
        if len(rows) == 2:
            specs.append(
                interval_bars_spec(rows, title=f"{comparison.label[:60]} ({comparison.unit})")
            )
    return specs
