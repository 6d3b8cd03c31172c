"""The summaries of what respondents met before answering: the drivers and journeys pages give
the same figures from them as from the facts, and read them only while they are fresh."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.analytics.drivers import DriverQuery, key_drivers
from cpxm.analytics.models import ResponseExposure, ResponseTouchSummary
from cpxm.analytics.touch_summaries import (
    refresh_if_stale,
    refresh_touch_summaries,
    touch_summaries_fresh,
)
from tests.analytics.test_drivers import _survey_with_a_planted_touchpoint
from tests.factories import make_interaction, make_stakeholder


def test_drivers_read_the_same_exposure_from_the_summary(session: Session) -> None:
    _survey_with_a_planted_touchpoint(session)
    query = DriverQuery("touch_test", include_themes=False, min_n=50)
    wider = DriverQuery("touch_test", include_themes=False, touchpoint_days=60, min_n=50)
    from_facts = key_drivers(session, query)
    wider_from_facts = key_drivers(session, wider)
    assert not touch_summaries_fresh(session)

    refreshed = refresh_touch_summaries(session)

    assert touch_summaries_fresh(session)
    # 200 responses: 100 met medical affairs by phone 10 days before, all met sales by email.
    assert refreshed.exposures == session.scalar(select(func.count()).select_from(ResponseExposure))
    assert refreshed.exposures == 200
    listed = sorted(
        sorted(touchpoints.strip(",").split(","))
        for touchpoints in session.scalars(select(ResponseExposure.touchpoints))
    )
    both = ["channel:email", "channel:phone", "department:medical_affairs", "department:sales"]
    assert listed == [both] * 100 + [["channel:email", "department:sales"]] * 100
    assert refreshed.responses == session.scalar(
        select(func.count()).select_from(ResponseTouchSummary)
    )
    assert key_drivers(session, query) == from_facts
    # Another window than the one kept is computed from the facts.
    assert key_drivers(session, wider) == wider_from_facts
    assert refresh_if_stale(session) is None


def test_a_new_fact_makes_the_summary_stale_until_refreshed(session: Session) -> None:
    _survey_with_a_planted_touchpoint(session)
    refresh_touch_summaries(session)
    query = DriverQuery("touch_test", include_themes=False, min_n=50)
    before = key_drivers(session, query)

    make_interaction(
        session, stakeholder=make_stakeholder(session), occurred_at=datetime(2025, 1, 2, 9)
    )
    session.flush()

    assert not touch_summaries_fresh(session)
    assert key_drivers(session, query) == before  # from the facts, which the touch left alone
    assert refresh_if_stale(session) is not None
    assert touch_summaries_fresh(session)
