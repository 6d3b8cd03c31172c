from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from cpxm.analytics.service import (
    OverviewCache,
    ScoreSummary,
    monthly_interactions,
    stakeholders_by_type,
    summarise_scores,
    workspace_overview,
)
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)


def _score(scores: list[ScoreSummary], metric: str, segment: str) -> ScoreSummary:
    (found,) = [s for s in scores if s.metric == metric and s.segment == segment]
    return found


def _seed_answers(session: Session) -> None:
    """Known answers: hcp NPS 0 (3 promoters, 3 detractors of 8), patients NPS +33 (2/1 of 3)."""
    survey = make_survey(session)
    nps = make_question(session, survey=survey, question_type="nps", position=1)
    csat = make_question(session, survey=survey, question_type="csat", position=2)
    ces = make_question(session, survey=survey, question_type="ces", position=3)
    comment = make_question(session, survey=survey, question_type="text", position=4)
    hcp = make_stakeholder(session, type="hcp")
    patient = make_stakeholder(session, type="patient")
    for value in (10, 9, 9, 8, 7, 6, 3, 0):
        make_response(session, survey=survey, stakeholder=hcp, answers={nps: value})
    for value in (10, 10, 5):
        make_response(session, survey=survey, stakeholder=patient, answers={nps: value})
    for value in (5, 4, 3, 2):
        make_response(session, survey=survey, stakeholder=hcp, answers={csat: value})
    for value in (7, 5, 6):
        make_response(session, survey=survey, stakeholder=patient, answers={ces: value})
    # Left out: a partial response, an answer off the 0-10 scale, a text answer, anonymous CES.
    make_response(session, survey=survey, stakeholder=hcp, status="partial", answers={nps: 0})
    make_response(session, survey=survey, stakeholder=hcp, answers={nps: 11, comment: "ok"})
    make_response(session, survey=survey, answers={ces: 1})


def test_scores_overall_and_by_stakeholder_type(session: Session) -> None:
    _seed_answers(session)

    scores = workspace_overview(session).scores

    overall_nps = _score(scores, "nps", "all")
    assert overall_nps.n == 11
    assert (overall_nps.promoters, overall_nps.detractors) == (5, 4)
    assert overall_nps.value == pytest.approx(100 / 11)
    assert _score(scores, "nps", "hcp").value == pytest.approx(0.0)
    assert _score(scores, "nps", "patient").value == pytest.approx(100 / 3)
    csat = _score(scores, "csat", "all")
    assert csat.n == 4
    assert csat.value == pytest.approx(50.0)
    assert csat.mean == pytest.approx(3.5)
    ces = _score(scores, "ces", "all")
    assert ces.n == 4
    assert ces.value == pytest.approx(19 / 4)
    assert _score(scores, "ces", "patient").value == pytest.approx(6.0)
    assert _score(scores, "ces", "unknown").n == 1


def test_nps_interval_is_the_multinomial_normal_approximation() -> None:
    histogram = [(10.0, 2), (9.0, 1), (8.0, 1), (7.0, 1), (5.0, 3)]
    scores = summarise_scores(("nps", "hcp", value, n) for value, n in histogram)
    perfect = summarise_scores([("nps", "hcp", 10.0, 10)])

    # variance = (pP + pD - nps^2) / n = 0.75 / 8; margin = 1.96 * sqrt(0.09375) = 0.6001
    nps = _score(scores, "nps", "hcp")
    assert nps.ci_low == pytest.approx(-60.01, abs=0.01)
    assert nps.ci_high == pytest.approx(60.01, abs=0.01)
    assert (_score(perfect, "nps", "all").ci_low, _score(perfect, "nps", "all").ci_high) == (
        100.0,
        100.0,
    )


def test_every_score_has_an_overall_row_even_without_answers() -> None:
    scores = summarise_scores([])

    assert {(s.metric, s.segment, s.n, s.value) for s in scores} == {
        ("nps", "all", 0, None),
        ("csat", "all", 0, None),
        ("ces", "all", 0, None),
    }


def test_stakeholders_are_counted_by_type_largest_first(session: Session) -> None:
    hcps = [make_stakeholder(session, type="hcp") for _ in range(3)]
    make_stakeholder(session, type="pharmacy")
    # Provisional records identity resolution folded into a golden record are not people.
    for _ in range(2):
        make_stakeholder(session, type="hcp", status="merged", merged_into_id=hcps[0].id)

    assert stakeholders_by_type(session) == [("hcp", 3), ("pharmacy", 1)]


def test_customer_scores_leave_out_the_employee_pulse_shown_as_enps(session: Session) -> None:
    customers = make_survey(session, kind="relationship")
    pulse = make_survey(session, kind="employee_pulse")
    nps = make_question(session, survey=customers, question_type="nps")
    enps = make_question(session, survey=pulse, question_type="nps")
    hcp = make_stakeholder(session, type="hcp")
    employee = make_stakeholder(session, type="employee")
    for value in (10, 9, 3):
        make_response(session, survey=customers, stakeholder=hcp, answers={nps: value})
    for value in (0, 2, 8, 9):
        make_response(session, survey=pulse, stakeholder=employee, answers={enps: value})

    overview = workspace_overview(session)

    assert {(s.segment, s.n) for s in overview.scores_for("nps")} == {("all", 3), ("hcp", 3)}
    assert overview.scores_for("nps")[0].value == pytest.approx(100 / 3)
    assert (overview.employee_nps.n, overview.employee_nps.segment) == (4, "employee")
    assert overview.employee_nps.value == pytest.approx(-25.0)


def test_interactions_are_bucketed_by_calendar_month(session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    for occurred_at, channel in [
        (datetime(2024, 12, 31, 23, 59, 59), "email"),
        (datetime(2025, 1, 1, 0, 0, 0), "email"),
        (datetime(2025, 1, 31, 23, 59, 59, 999999), "phone"),
        (datetime(2025, 2, 1), "email"),
        (datetime(2025, 2, 14), "email"),
    ]:
        make_interaction(session, stakeholder=hcp, occurred_at=occurred_at, channel_code=channel)
    make_interaction(
        session,
        stakeholder=hcp,
        occurred_at=datetime(2025, 2, 2),
        department_code="medical_affairs",
    )

    rows = monthly_interactions(session)
    overview = workspace_overview(session)

    assert {(r.month, r.channel, r.department, r.interactions) for r in rows} == {
        ("2024-12", "email", "sales", 1),
        ("2025-01", "email", "sales", 1),
        ("2025-01", "phone", "sales", 1),
        ("2025-02", "email", "sales", 2),
        ("2025-02", "email", "medical_affairs", 1),
    }
    assert overview.interactions_by("channel") == [
        ("2024-12", "email", 1),
        ("2025-01", "email", 1),
        ("2025-01", "phone", 1),
        ("2025-02", "email", 3),
    ]
    assert overview.interactions_by("department") == [
        ("2024-12", "sales", 1),
        ("2025-01", "sales", 2),
        ("2025-02", "medical_affairs", 1),
        ("2025-02", "sales", 2),
    ]
    assert overview.total_interactions == 6


def test_overview_cache_recomputes_only_when_the_data_changes(session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    make_interaction(session, stakeholder=hcp)
    cache = OverviewCache()

    first = cache.get(session)
    again = cache.get(session)
    make_interaction(session, stakeholder=hcp)
    after_insert = cache.get(session)

    assert again is first
    assert after_insert is not first
    assert after_insert.total_interactions == 2


def test_overview_cache_expires_after_max_age(session: Session) -> None:
    cache = OverviewCache(max_age_seconds=0)

    assert cache.get(session) is not cache.get(session)
