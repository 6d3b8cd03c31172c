"""Pulse waves on a calendar: due waves are invited once, through the fatigue rules."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.stakeholders.models import Consent
from cpxm.surveys.definition import DefinitionError, Schedule
from cpxm.surveys.distribution import send_scheduled_waves
from cpxm.surveys.models import Invitation
from cpxm.surveys.service import save_definition
from tests.factories import make_stakeholder, make_taxonomy

PULSE = {
    "code": "quarterly_pulse",
    "name": "Quarterly pulse",
    "kind": "employee_pulse",
    "status": "active",
    "audience": {"stakeholder_types": ["employee"]},
    "schedule": {"start": "2025-02", "every_months": 3, "day": 1},
    "pages": [{"questions": [{"code": "enps", "type": "nps", "prompt": "Recommend us?"}]}],
}


def test_a_wave_is_due_on_its_months_from_its_day() -> None:
    schedule = Schedule(start="2025-02", every_months=3, day=2)
    assert schedule.wave_due(date(2025, 2, 2)) == "2025-02"
    assert schedule.wave_due(date(2025, 2, 1)) is None  # before its day
    assert schedule.wave_due(date(2025, 3, 15)) is None  # between waves
    assert schedule.wave_due(date(2026, 2, 20)) == "2026-02"
    assert schedule.wave_due(date(2024, 11, 5)) is None  # before the first


def test_due_waves_are_invited_once_and_the_fatigue_rules_apply(session: Session) -> None:
    make_taxonomy(session)
    survey = save_definition(session, document=PULSE).survey
    employees = [
        make_stakeholder(session, type="employee", email=f"e{i}@example.org") for i in range(4)
    ]
    for employee in employees[:3]:  # the fourth never agreed to be surveyed: held back
        session.add(
            Consent(
                stakeholder_id=employee.id, purpose="survey", channel_code=None,
                status="granted", recorded_at=datetime(2025, 1, 1), source="hr",
            )
        )  # fmt: skip
    make_stakeholder(session, type="hcp", email="dr@example.org")  # not the pulse's audience
    session.flush()

    assert send_scheduled_waves(session, now=datetime(2025, 4, 20, 9)) == {}
    assert send_scheduled_waves(session, now=datetime(2025, 5, 1, 9)) == {"quarterly_pulse": 3}
    invited = session.execute(
        select(Invitation.stakeholder_id, Invitation.wave).where(Invitation.survey_id == survey.id)
    ).all()
    assert sorted(invited) == sorted((e.id, "2025-05") for e in employees[:3])
    # Run again the same month (the job runs hourly): the wave is not sent twice.
    assert send_scheduled_waves(session, now=datetime(2025, 5, 9, 9)) == {}
    assert send_scheduled_waves(session, now=datetime(2025, 8, 1, 9)) == {"quarterly_pulse": 3}


def test_a_bad_schedule_is_reported_by_field() -> None:
    with pytest.raises(DefinitionError) as raised:
        from cpxm.surveys.definition import parse_definition

        parse_definition({**PULSE, "schedule": {"start": "May", "every_months": 0}})
    assert "schedule" in str(raised.value.detail)
