"""Every headline figure the overview and the API show, checked against SQL written here.

The figures come through the code users reach (the overview's aggregates and page context, the
stakeholder list, the metric report); the expected values are plain SQL over the demo's tables,
written independently of that code, so a change in what a figure covers (merged records,
employee answers) fails here rather than drifting silently between pages.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from cpxm.analytics.coordination import CoordinationQuery, coordination_report
from cpxm.analytics.journeys import JourneyQuery, journey_report
from cpxm.analytics.metrics import MetricQuery, metric_report
from cpxm.analytics.pages import overview_context
from cpxm.analytics.service import ScoreSummary, workspace_overview
from cpxm.stakeholders.service import list_stakeholders

# Customer scores: every complete answer on its scale, outside the employee pulse.
_CUSTOMER_ANSWERS = """
    SELECT q.question_type AS metric, COALESCE(s.type, 'unknown') AS segment,
           COUNT(*) AS n,
           SUM(CASE WHEN a.value_number >= 9 THEN 1 ELSE 0 END) AS nines_and_tens,
           SUM(CASE WHEN a.value_number <= 6 THEN 1 ELSE 0 END) AS six_or_less,
           SUM(CASE WHEN a.value_number >= 4 THEN 1 ELSE 0 END) AS four_or_more,
           SUM(a.value_number) AS total
    FROM answers a
    JOIN questions q ON q.id = a.question_id
    JOIN responses r ON r.id = a.response_id
    JOIN surveys sv ON sv.id = r.survey_id
    LEFT JOIN stakeholders s ON s.id = r.stakeholder_id
    WHERE r.status = 'complete' AND a.value_number IS NOT NULL AND sv.kind {kind}
      AND ((q.question_type = 'nps' AND a.value_number BETWEEN 0 AND 10)
        OR (q.question_type = 'csat' AND a.value_number BETWEEN 1 AND 5)
        OR (q.question_type = 'ces' AND a.value_number BETWEEN 1 AND 7))
    GROUP BY q.question_type, COALESCE(s.type, 'unknown')
"""


def _rows(session: Session, sql: str) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in session.execute(text(sql))]


def _count(session: Session, sql: str) -> int:
    return int(session.execute(text(sql)).scalar_one())


def _expected_value(metric: str, row: dict[str, Any]) -> float:
    n = int(row["n"])
    if metric == "nps":
        return 100 * (int(row["nines_and_tens"]) - int(row["six_or_less"])) / n
    if metric == "csat":
        return 100 * int(row["four_or_more"]) / n
    return float(row["total"]) / n


def _expected_scores(session: Session, kind: str) -> dict[tuple[str, str], tuple[int, float]]:
    """(metric, stakeholder type or 'all') -> (answers, score), from SQL alone."""
    by_segment = _rows(session, _CUSTOMER_ANSWERS.format(kind=kind))
    overall: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    expected: dict[tuple[str, str], tuple[int, float]] = {}
    for row in by_segment:
        expected[(row["metric"], row["segment"])] = (
            int(row["n"]),
            _expected_value(row["metric"], row),
        )
        for column in ("n", "nines_and_tens", "six_or_less", "four_or_more", "total"):
            overall[row["metric"]][column] += float(row[column])
    for metric, sums in overall.items():
        expected[(metric, "all")] = (int(sums["n"]), _expected_value(metric, sums))
    return expected


def test_the_demo_points_every_fact_at_a_golden_record(demo_session: Session) -> None:
    """Merges re-point interactions and responses, so counting them counts golden records."""
    merged = _count(demo_session, "SELECT COUNT(*) FROM stakeholders WHERE status = 'merged'")
    facts_on_merged = {
        "interactions": _count(
            demo_session,
            "SELECT COUNT(*) FROM interactions f JOIN stakeholders s ON s.id = f.stakeholder_id "
            "WHERE s.status <> 'active'",
        ),
        "responses": _count(
            demo_session,
            "SELECT COUNT(*) FROM responses f JOIN stakeholders s ON s.id = f.stakeholder_id "
            "WHERE s.status <> 'active'",
        ),
        "invitations": _count(
            demo_session,
            "SELECT COUNT(*) FROM invitations f JOIN stakeholders s ON s.id = f.stakeholder_id "
            "WHERE s.status <> 'active'",
        ),
    }

    assert merged > 0  # the demo resolves identities, so the check below means something
    assert facts_on_merged == {"interactions": 0, "responses": 0, "invitations": 0}


def test_overview_and_api_count_golden_records_by_type(demo_session: Session) -> None:
    expected = {
        row["type"]: int(row["n"])
        for row in _rows(
            demo_session,
            "SELECT type, COUNT(*) AS n FROM stakeholders WHERE status = 'active' GROUP BY type",
        )
    }
    overview = workspace_overview(demo_session)
    _, listed_total = list_stakeholders(demo_session, limit=1, offset=0)
    _, listed_hcps = list_stakeholders(demo_session, type="hcp", limit=1, offset=0)

    assert dict(overview.stakeholders_by_type) == expected
    assert overview.total_stakeholders == sum(expected.values())
    assert listed_total == sum(expected.values())
    assert listed_hcps == expected["hcp"]


def test_overview_counts_interactions_by_channel_and_department(demo_session: Session) -> None:
    def counted(sql: str) -> dict[str, int]:
        return {row["k"]: int(row["n"]) for row in _rows(demo_session, sql)}

    by_channel = counted(
        "SELECT channel_code AS k, COUNT(*) AS n FROM interactions GROUP BY channel_code"
    )
    by_department = counted(
        "SELECT department_code AS k, COUNT(*) AS n FROM interactions GROUP BY department_code"
    )

    def shown(rows: list[tuple[str, str, int]]) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for _, key, count in rows:
            totals[key] += count
        return dict(totals)

    overview = workspace_overview(demo_session)
    context = overview_context(overview)

    assert shown(overview.interactions_by("channel")) == by_channel
    assert shown(overview.interactions_by("department")) == by_department
    assert dict(zip(context["channels"].keys, context["channels"].totals, strict=True)) == (
        by_channel
    )
    assert overview.total_interactions == sum(by_channel.values())


def test_journeys_and_coordination_count_golden_records(demo_session: Session) -> None:
    on_journey = _count(
        demo_session,
        "SELECT COUNT(DISTINCT s.id) FROM interactions i "
        "JOIN journey_stages js ON js.id = i.journey_stage_id "
        "JOIN stakeholders s ON s.id = i.stakeholder_id "
        "WHERE s.status = 'active' AND js.journey_id = (SELECT MIN(id) FROM journeys)",
    )
    contacted = _count(
        demo_session,
        "SELECT COUNT(DISTINCT s.id) FROM interactions i "
        "JOIN stakeholders s ON s.id = i.stakeholder_id "
        "WHERE s.status = 'active' AND i.direction = 'outbound'",
    )

    journey = journey_report(demo_session, JourneyQuery())
    coordination = coordination_report(demo_session, CoordinationQuery())

    assert on_journey > 0
    assert journey.stakeholders == on_journey
    assert coordination.stakeholders_contacted == contacted


def test_customer_scores_leave_out_the_employee_pulse(demo_session: Session) -> None:
    expected = _expected_scores(demo_session, "<> 'employee_pulse'")
    overview = workspace_overview(demo_session)
    shown = {(s.metric, s.segment): s for s in overview.scores if s.n}

    assert ("nps", "employee") not in expected  # employees answer only their pulse here
    assert set(shown) == set(expected)
    for key, (n, value) in expected.items():
        assert shown[key].n == n, key
        assert shown[key].value == pytest.approx(value, abs=1e-9), key


def test_employee_nps_is_shown_on_its_own(demo_session: Session) -> None:
    ((n, value),) = [
        figure
        for key, figure in _expected_scores(demo_session, "= 'employee_pulse'").items()
        if key == ("nps", "all")
    ]
    enps: ScoreSummary = overview_context(workspace_overview(demo_session))["employee_nps"]

    assert n > 0
    assert (enps.metric, enps.segment, enps.n) == ("nps", "employee", n)
    assert enps.value == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("metric", ["nps", "csat", "ces"])
def test_overview_headline_equals_the_analytics_overall_figure(
    demo_session: Session, metric: str
) -> None:
    headline: ScoreSummary = overview_context(workspace_overview(demo_session))["headline"][metric]
    overall = metric_report(demo_session, MetricQuery(metric=metric, min_n=1)).overall
    (expected_n, expected_value) = _expected_scores(demo_session, "<> 'employee_pulse'")[
        (metric, "all")
    ]

    assert (headline.n, overall.n) == (expected_n, expected_n)
    assert headline.value == pytest.approx(expected_value, abs=1e-9)
    assert overall.value == pytest.approx(expected_value, abs=1e-9)
    assert (headline.ci_low, headline.ci_high) == pytest.approx((overall.ci_low, overall.ci_high))
