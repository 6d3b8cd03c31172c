"""Moments of truth: whether people went on to the next stage after a good or a bad experience
at a stage, computed against a journey whose answer is known by construction."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from cpxm.analytics.journeys import JourneyQuery, journey_report
from cpxm.journeys.models import Journey, JourneyStage
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)
from tests.surveys.helpers import make_invitation


def test_moments_of_truth_compare_going_on_after_good_and_bad_answers(
    session: Session,
) -> None:
    make_taxonomy(session)
    journey = Journey(code="adoption", name="Adoption", stakeholder_type="hcp")
    session.add(journey)
    session.flush()
    aware, engaged = (
        JourneyStage(journey_id=journey.id, code=code, name=code.title(), position=position)
        for position, code in ((1, "aware"), (2, "engaged"))
    )
    session.add_all([aware, engaged])
    session.flush()
    survey = make_survey(session, kind="transactional", code="after_visit")
    csat = make_question(session, survey=survey, question_type="csat")
    start = datetime(2025, 4, 1, 9)
    # Ten satisfied (CSAT 5), eight of whom reach the next stage afterwards; ten dissatisfied
    # (CSAT 2), three of whom do, and one more who was there before the touch (not "went on").
    for score, went_on, before in ((5, 8, 0), (2, 3, 1)):
        for number in range(10):
            person = make_stakeholder(session, country_code="DE")
            touch = make_interaction(
                session, stakeholder=person, occurred_at=start, journey_stage_id=aware.id
            )
            invitation = make_invitation(session, survey, person)
            invitation.trigger_interaction_id = touch.id
            response = make_response(
                session,
                survey=survey,
                stakeholder=person,
                started_at=start + timedelta(days=1),
                answers={csat: score},
            )
            response.invitation_id = invitation.id
            if number < went_on:
                later = start + timedelta(days=5)
            elif number < went_on + before:
                later = start - timedelta(days=5)
            else:
                continue
            make_interaction(
                session, stakeholder=person, occurred_at=later, journey_stage_id=engaged.id
            )
    session.flush()

    report = journey_report(session, JourneyQuery(journey="adoption", min_n=5))

    first = report.stages[0]
    assert first.satisfied_continue_percent == pytest.approx(80.0)
    assert first.dissatisfied_continue_percent == pytest.approx(30.0)
    assert first.truth_effect == pytest.approx(50.0)
    assert first.truth_p_value is not None and first.truth_p_value < 0.05
    assert report.stages[1].satisfied_continue_percent is None  # the last stage leads nowhere
