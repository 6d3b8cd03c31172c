"""Issue 18 item 3: a later report of the same case is a follow-up (a version), not a new case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.errors import DomainError
from cpxm.safety import intake
from cpxm.safety.models import SafetyCase, SafetyCaseEvent
from cpxm.safety.screening import screen_items
from cpxm.safety.service import CaseStateError
from cpxm.stakeholders.models import Stakeholder
from tests.factories import make_stakeholder, make_taxonomy
from tests.safety.helpers import make_feedback

NOW = datetime(2026, 12, 1, 12, 0)


def _report(session: Session, text: str, reporter: Stakeholder | None, day: int) -> SafetyCase:
    item = make_feedback(
        session,
        text,
        stakeholder_id=reporter.id if reporter else None,
        received_at=datetime(2026, 11, day, 10, 0),
    )
    (case,) = screen_items(session, items=[item], now=NOW)[1]
    return case


def test_later_reports_of_the_same_event_become_versions(session: Session) -> None:
    make_taxonomy(session)
    patient = make_stakeholder(session, type="patient", country_code="DE")
    first = _report(session, "I get a rash every time I take Immuny.", patient, 2)
    second = _report(session, "Still the rash with Immuny, now on my arms too.", patient, 9)
    third = _report(session, "Update: the Immuny rash has spread to my back.", patient, 20)

    assert first.follow_up_of is None and first.version == 1
    assert (second.follow_up_of, second.version) == (first.id, 2)
    assert (third.follow_up_of, third.version) == (first.id, 3)
    assert [case.id for case in intake.follow_ups(session, first.id)] == [second.id, third.id]
    trail = session.scalars(
        select(SafetyCaseEvent.event_type).where(SafetyCaseEvent.case_id == first.id)
    ).all()
    assert trail.count("follow_up_linked") == 2


@pytest.mark.parametrize(
    ("later", "same_reporter", "day"),
    [
        ("I get headaches with Immuny now.", True, 9),  # another event
        ("I get a rash every time I take Oncox.", True, 9),  # another product
        ("I get a rash every time I take Immuny.", False, 9),  # another reporter
    ],
)
def test_what_is_not_a_follow_up(
    session: Session, later: str, same_reporter: bool, day: int
) -> None:
    make_taxonomy(session)
    patient = make_stakeholder(session, type="patient")
    other = make_stakeholder(session, type="patient")
    first = _report(session, "I get a rash every time I take Immuny.", patient, 1)
    case = _report(session, later, patient if same_reporter else other, day)
    assert first.follow_up_of is None
    assert case.follow_up_of is None and case.version == 1


def test_window_rejected_and_anonymous_reports_stay_apart(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_taxonomy(session)
    patient = make_stakeholder(session, type="patient")
    monkeypatch.setenv(intake.FOLLOW_UP_WINDOW_ENV, "5")
    _report(session, "I get a rash every time I take Immuny.", patient, 1)
    late = _report(session, "Still the rash with Immuny.", patient, 9)
    assert late.follow_up_of is None  # 8 days apart, window 5
    anonymous = [
        _report(session, "I get a rash every time I take Immuny.", None, day) for day in (10, 11)
    ]
    assert anonymous[1].follow_up_of is None
    late.status = "rejected"
    session.flush()
    again = _report(session, "Still the rash with Immuny.", patient, 12)
    assert again.follow_up_of is None


def test_pv_links_and_unlinks_by_hand(session: Session) -> None:
    make_taxonomy(session)
    patient = make_stakeholder(session, type="patient")
    first = _report(session, "I get a rash every time I take Immuny.", patient, 2)
    other = _report(session, "My skin itches badly since the Immuny injections.", patient, 3)
    assert other.follow_up_of is None  # "itches" is not "rash"

    with pytest.raises(DomainError, match="say why"):
        intake.link_follow_up(
            session, case_id=other.id, master_case_id=first.id, user_id=None, reason=""
        )
    with pytest.raises(DomainError, match="cannot follow up itself"):
        intake.link_follow_up(
            session, case_id=first.id, master_case_id=first.id, user_id=None, reason="x"
        )
    intake.link_follow_up(
        session, case_id=other.id, master_case_id=first.id, user_id=None, reason="same episode"
    )
    assert other.follow_up_of == first.id and other.version == 2
    with pytest.raises(CaseStateError, match="has follow-ups of its own"):
        intake.link_follow_up(
            session, case_id=first.id, master_case_id=other.id, user_id=None, reason="x"
        )
    intake.unlink_follow_up(session, case_id=other.id, user_id=None, reason="different episode")
    assert other.follow_up_of is None and other.version == 1
    with pytest.raises(CaseStateError, match="not a follow-up"):
        intake.unlink_follow_up(session, case_id=other.id, user_id=None, reason="again")
    events = session.scalars(
        select(SafetyCaseEvent.event_type).where(SafetyCaseEvent.case_id == first.id)
    ).all()
    assert "follow_up_linked" in events and "follow_up_unlinked" in events


def test_link_and_unlink_through_the_api(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    patient = make_stakeholder(session, type="patient")
    first = _report(session, "I get a rash every time I take Immuny.", patient, 2)
    other = _report(session, "My skin itches badly since the Immuny injections.", patient, 3)
    session.commit()
    pv = client_as("pv_officer")

    linked = pv.post(
        f"/api/v1/safety/cases/{other.id}/link",
        json={"master_case_id": first.id, "reason": "same episode"},
    )
    assert linked.status_code == 200 and linked.json()["version"] == 2
    assert pv.get(f"/api/v1/safety/cases/{first.id}").json()["follow_up_ids"] == [other.id]
    page = pv.get(f"/safety/cases/{other.id}")
    assert f'version 2</strong> of <a href="/safety/cases/{first.id}"' in page.text
    unlinked = pv.post(f"/api/v1/safety/cases/{other.id}/unlink", json={"reason": "separate"})
    assert unlinked.status_code == 200 and unlinked.json()["follow_up_of"] is None
    assert (
        pv.post(f"/api/v1/safety/cases/{other.id}/unlink", json={"reason": "again"}).status_code
        == 409
    )
    assert (
        client_as("analyst")
        .post(f"/api/v1/safety/cases/{other.id}/unlink", json={"reason": "x"})
        .status_code
        == 403
    )
