"""Key drivers from known answers: relative weights rank the planted drivers, themes count."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.analytics.drivers import DriverQuery, key_drivers
from cpxm.errors import FieldError
from cpxm.feedback.models import FeedbackItem, FeedbackTheme
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)


def _survey_with_planted_drivers(session: Session, n: int = 240) -> None:
    """NPS = 1.5 x speed + 0.6 x clarity + 0 x catering + noise, ratings 1-5; a 'price' theme
    in the comments of a third of the respondents costs 2 points."""
    rng = np.random.default_rng(5)
    survey = make_survey(session, code="drivers_test")
    nps = make_question(session, survey=survey, question_type="nps", code="nps")
    speed = make_question(session, survey=survey, question_type="rating", code="speed", position=2)
    clarity = make_question(
        session, survey=survey, question_type="rating", code="clarity", position=3
    )
    catering = make_question(
        session, survey=survey, question_type="rating", code="catering", position=4
    )
    person = make_stakeholder(session)
    for index in range(n):
        ratings = np.clip(np.round(3 + rng.normal(size=3)), 1, 5)
        complains = index % 3 == 0
        score = 2 + 1.5 * (ratings[0] - 3) + 0.6 * (ratings[1] - 3) - 2.0 * complains
        score = int(np.clip(np.round(5 + score + rng.normal(scale=0.8)), 0, 10))
        response = make_response(
            session,
            survey=survey,
            stakeholder=person,
            answers={nps: score, speed: ratings[0], clarity: ratings[1], catering: ratings[2]},
        )
        if complains:
            item = FeedbackItem(
                source_kind="survey_comment",
                text="too expensive",
                received_at=response.started_at,
                response_id=response.id,
            )
            session.add(item)
            session.flush()
            session.add(FeedbackTheme(feedback_item_id=item.id, theme_code="price"))
    session.flush()


def test_relative_weights_rank_the_planted_drivers_and_the_theme(session: Session) -> None:
    _survey_with_planted_drivers(session)

    report = key_drivers(session, DriverQuery("drivers_test", min_n=50))

    assert report.n == 240 and not report.suppressed
    assert [driver.code for driver in report.drivers] == ["speed", "price", "clarity", "catering"]
    assert report.r_squared is not None and 0.6 < report.r_squared < 0.95
    assert sum(driver.importance_percent for driver in report.drivers) == pytest.approx(100.0)
    for driver in report.drivers:
        assert driver.shapley_percent == pytest.approx(driver.importance_percent, abs=2.0)
    price = next(driver for driver in report.drivers if driver.kind == "theme")
    assert price.correlation < 0
    assert price.performance == pytest.approx(100 / 3, abs=0.5)  # % of responses mentioning
    assert report.drivers[0].quadrant in ("fix first", "keep it up")


def test_questions_only_and_small_samples(session: Session) -> None:
    _survey_with_planted_drivers(session, n=30)

    questions_only = key_drivers(
        session,
        DriverQuery("drivers_test", include_themes=False, include_touchpoints=False, min_n=10),
    )
    too_few = key_drivers(session, DriverQuery("drivers_test", min_n=31))

    assert {driver.kind for driver in questions_only.drivers} == {"question"}
    assert too_few.suppressed and too_few.drivers == []


def test_unknown_survey_is_a_field_error(session: Session) -> None:
    with pytest.raises(FieldError) as raised:
        key_drivers(session, DriverQuery("no_such_survey"))

    assert raised.value.detail[0]["loc"][-1] == "survey"


def _survey_with_a_planted_touchpoint(session: Session, n: int = 200) -> None:
    """NPS = 6 + 1.2 x (service - 3) + 2.5 if medical affairs called in the 30 days before the
    response; half the respondents got that call 10 days before, a quarter only 45 days before
    (outside the window), and everyone met sales by email 3 days before (no variance)."""
    rng = np.random.default_rng(8)
    make_taxonomy(session)
    survey = make_survey(session, code="touch_test")
    nps = make_question(session, survey=survey, question_type="nps", code="nps")
    service = make_question(
        session, survey=survey, question_type="rating", code="service", position=2
    )
    for index in range(n):
        person = make_stakeholder(session)
        answered = datetime(2025, 6, 1, 9, 0) + timedelta(days=index % 40)
        called = index % 2 == 0
        if called:
            make_interaction(
                session, stakeholder=person, occurred_at=answered - timedelta(days=10),
                channel_code="phone", department_code="medical_affairs",
            )  # fmt: skip
        elif index % 4 == 1:
            make_interaction(
                session, stakeholder=person, occurred_at=answered - timedelta(days=45),
                channel_code="phone", department_code="medical_affairs",
            )  # fmt: skip
        make_interaction(
            session, stakeholder=person, occurred_at=answered - timedelta(days=3),
            channel_code="email", department_code="sales",
        )  # fmt: skip
        rating = float(np.clip(np.round(3 + rng.normal()), 1, 5))
        score = 6 + 1.2 * (rating - 3) + 2.5 * called + rng.normal(scale=0.8)
        make_response(
            session, survey=survey, stakeholder=person, started_at=answered,
            answers={nps: float(np.clip(np.round(score), 0, 10)), service: rating},
        )  # fmt: skip
    session.flush()


def test_touchpoint_exposure_before_the_response_is_a_driver(session: Session) -> None:
    _survey_with_a_planted_touchpoint(session)

    report = key_drivers(session, DriverQuery("touch_test", include_themes=False, min_n=50))

    touchpoints = {d.code: d for d in report.drivers if d.kind == "touchpoint"}
    # Medical affairs by phone splits respondents in half; sales by email reached everyone and
    # so explains nothing and is left out.
    assert set(touchpoints) == {"department:medical_affairs", "channel:phone"}
    medical = touchpoints["department:medical_affairs"]
    assert medical.performance == pytest.approx(50.0)  # % of responses exposed in 30 days
    assert medical.correlation > 0.5
    assert medical.quadrant == "touchpoint"
    assert "Medical Affairs" in medical.label
    # Phone and medical affairs are the same calls: relative weights split the credit evenly.
    assert medical.importance_percent == pytest.approx(
        touchpoints["channel:phone"].importance_percent, abs=0.5
    )
    assert medical.importance_percent + touchpoints["channel:phone"].importance_percent > 40
    assert medical.shapley_percent == pytest.approx(medical.importance_percent, abs=2.0)


def test_touchpoint_window_is_configurable(session: Session) -> None:
    _survey_with_a_planted_touchpoint(session)

    wider = key_drivers(
        session,
        DriverQuery("touch_test", include_themes=False, touchpoint_days=60, min_n=50),
    )
    without = key_drivers(
        session, DriverQuery("touch_test", include_themes=False, include_touchpoints=False)
    )

    medical = next(d for d in wider.drivers if d.code == "department:medical_affairs")
    assert medical.performance == pytest.approx(75.0)  # the calls 45 days before count now
    assert {d.kind for d in without.drivers} == {"question"}


def test_touchpoint_drivers_in_the_api_page_and_csv(client: TestClient, session: Session) -> None:
    _survey_with_a_planted_touchpoint(session)
    query = "survey=touch_test&themes=false&touchpoint_days=60"

    api = client.get(f"/api/v1/analytics/drivers?{query}").json()
    page = client.get(f"/analytics/drivers?{query}")
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/analytics/drivers/export/drivers.csv?{query}").text
    )))  # fmt: skip
    bad = client.get("/api/v1/analytics/drivers?survey=touch_test&touchpoint_days=0")

    exposed = {d["code"]: d["performance"] for d in api["drivers"] if d["kind"] == "touchpoint"}
    assert exposed["department:medical_affairs"] == pytest.approx(75.0)
    assert page.status_code == 200 and "75.0% contacted" in page.text
    assert {row["code"] for row in rows if row["kind"] == "touchpoint"} == set(exposed)
    assert bad.status_code == 422
