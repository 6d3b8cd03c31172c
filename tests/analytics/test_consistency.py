"""Every headline figure the overview and the API show, checked against SQL written here.

The figures come through the code users reach (the overview's aggregates and page context, the
stakeholder list, the metric report); the expected values are plain SQL over the demo's tables,
written independently of that code, so a change in what a figure covers (merged records,
employee answers) fails here rather than drifting silently between pages.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
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


def test_journey_funnel_counts_each_stage_as_sql_does(demo_session: Session) -> None:
    first_arrivals = _rows(
        demo_session,
        "SELECT i.stakeholder_id AS who, js.position AS position, MIN(i.occurred_at) AS first "
        "FROM interactions i "
        "JOIN journey_stages js ON js.id = i.journey_stage_id "
        "JOIN stakeholders s ON s.id = i.stakeholder_id "
        "WHERE s.status = 'active' AND js.journey_id = (SELECT MIN(id) FROM journeys) "
        "GROUP BY i.stakeholder_id, js.position",
    )
    positions = [
        int(row["position"])
        for row in _rows(
            demo_session,
            "SELECT position FROM journey_stages "
            "WHERE journey_id = (SELECT MIN(id) FROM journeys) ORDER BY position",
        )
    ]
    arrived: dict[int, dict[int, Any]] = defaultdict(dict)
    for row in first_arrivals:
        arrived[int(row["position"])][int(row["who"])] = row["first"]
    expected = []
    for index, position in enumerate(positions):
        here = arrived[position]
        following = arrived[positions[index + 1]] if index + 1 < len(positions) else None
        continued = (
            sum(1 for who, at in here.items() if who in following and following[who] >= at)
            if following is not None
            else 0
        )
        expected.append((len(here), continued))

    report = journey_report(demo_session, JourneyQuery(min_n=1))

    assert [stage.position for stage in report.stages] == positions
    assert [(stage.reached, stage.continued) for stage in report.stages] == expected
    assert sum(reached for reached, _ in expected) > 0
    assert [stage.dropped for stage in report.stages[:-1]] == [
        reached - continued for reached, continued in expected[:-1]
    ]


def _expected_ping_pong(session: Session, *, departments: int, days: int) -> tuple[int, int]:
    """(episodes, stakeholders with one) by the definition, written out over raw contacts:
    a contact is in an episode when >= N departments contacted the person in the D days up to
    it; flagged contacts less than D days apart belong to one episode."""
    contacts = session.execute(
        text(
            "SELECT stakeholder_id, occurred_at, department_code FROM interactions "
            "WHERE direction = 'outbound' ORDER BY stakeholder_id, occurred_at"
        )
    ).all()
    by_person: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for who, occurred_at, department in contacts:
        # SQLite hands back its stored text, PostgreSQL a datetime; both are UTC.
        moment = (
            datetime.fromisoformat(occurred_at) if isinstance(occurred_at, str) else occurred_at
        )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        by_person[who].append((moment.timestamp() // 1, department))
    window = days * 86_400
    episodes = 0
    people = set()
    for who, timeline in by_person.items():
        previous_flagged: float | None = None
        for position, (moment, _) in enumerate(timeline):
            recent = {
                department
                for earlier, department in timeline[: position + 1]
                if earlier > moment - window
            }
            if len(recent) < departments:
                continue
            if previous_flagged is None or moment - previous_flagged > window:
                episodes += 1
                people.add(who)
            previous_flagged = moment
    return episodes, len(people)


def test_ping_pong_episodes_follow_their_definition(demo_session: Session) -> None:
    expected = _expected_ping_pong(demo_session, departments=3, days=7)
    report = coordination_report(demo_session, CoordinationQuery(min_departments=3, window_days=7))

    assert expected[0] > 0  # the demo plants ping-pong, so equality means something
    assert (report.episodes, report.stakeholders_with_episodes) == expected


def test_overview_counts_customer_responses_apart_from_the_pulse(demo_session: Session) -> None:
    def complete(kind: str) -> int:
        return int(
            demo_session.execute(
                text(
                    "SELECT COUNT(*) FROM responses r JOIN surveys sv ON sv.id = r.survey_id "
                    "WHERE r.status = 'complete' AND (sv.kind = :kind) = :same"
                ),
                {"kind": "employee_pulse", "same": kind.startswith("=")},
            ).scalar_one()
        )

    overview = workspace_overview(demo_session)

    assert complete("= 'employee_pulse'") > 0
    assert overview.total_responses == complete("<> 'employee_pulse'")
    assert overview.employee_responses == complete("= 'employee_pulse'")
