"""Key drivers from known answers: relative weights rank the planted drivers, themes count."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.orm import Session

from cpxm.analytics.drivers import DriverQuery, key_drivers
from cpxm.errors import FieldError
from cpxm.feedback.models import FeedbackItem, FeedbackTheme
from tests.factories import make_question, make_response, make_stakeholder, make_survey


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
        session, DriverQuery("drivers_test", include_themes=False, min_n=10)
    )
    too_few = key_drivers(session, DriverQuery("drivers_test", min_n=31))

    assert {driver.kind for driver in questions_only.drivers} == {"question"}
    assert too_few.suppressed and too_few.drivers == []


def test_unknown_survey_is_a_field_error(session: Session) -> None:
    with pytest.raises(FieldError) as raised:
        key_drivers(session, DriverQuery("no_such_survey"))

    assert raised.value.detail[0]["loc"][-1] == "survey"
