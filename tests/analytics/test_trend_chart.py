"""The trend chart as a browser draws it (rendered by vl-convert, the same Vega): one label per
month, and a line that breaks over months without a figure instead of bridging them."""

from __future__ import annotations

import re

import vl_convert

from cpxm.analytics.charts import trend_spec


def _svg(rows: list[tuple[str, float]], grain: str = "month") -> str:
    spec = trend_spec(
        [
            {"period": period, "value": value, "low": value - 5, "high": value + 5, "n": 40}
            for period, value in rows
        ],
        title="NPS by month",
        grain=grain,
    )
    spec["width"] = 480
    return str(vl_convert.vegalite_to_svg(spec))


def _line_pieces(svg: str) -> int:
    (path,) = re.findall(r'aria-roledescription="line mark"[^>]*\sd="([^"]+)"', svg)
    return str(path).count("M")


def test_months_without_a_figure_break_the_line() -> None:
    joined = _svg([("2025-01-01", 10), ("2025-02-01", 12), ("2025-03-01", 15)])
    assert _line_pieces(joined) == 1
    gap = _svg([("2025-01-01", 10), ("2025-02-01", 12), ("2025-05-01", 15), ("2025-06-01", 9)])
    assert _line_pieces(gap) == 2


def test_each_month_is_labelled_once() -> None:
    svg = _svg([("2025-03-01", 10), ("2025-04-01", 12), ("2025-05-01", 15)])
    labels = re.findall(r">([A-Z][a-z]{2} \d\d)</text>", svg)
    assert labels and len(labels) == len(set(labels)), labels
    weekly = _svg([("2025-03-03", 10), ("2025-03-10", 12), ("2025-03-24", 15)], grain="week")
    assert _line_pieces(weekly) == 2  # the week of 17 March has no figure
    week_labels = re.findall(r">(\d\d [A-Z][a-z]{2})</text>", weekly)
    assert week_labels and len(week_labels) == len(set(week_labels)), week_labels
