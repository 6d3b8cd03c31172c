"""Issue 18 item 4: seriousness per ICH E2A, the hand-off clock, and clocks in local time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.errors import DomainError
from cpxm.safety import calendar, service
from cpxm.safety.models import SafetyCase, SafetyCaseEvent
from cpxm.safety.screening import screen_items
from cpxm.safety.seriousness import assess, level
from tests.auth.signing import signature, signer, signing_headers, signing_user
from tests.factories import make_stakeholder, make_taxonomy
from tests.safety.helpers import make_feedback

NOW = datetime(2026, 11, 23, 12, 0)


def test_a_us_report_the_evening_before_thanksgiving_is_due_on_friday() -> None:
    # Wednesday 2026-11-25 20:00 in New York is Thursday 01:00 UTC (Thanksgiving).
    due = calendar.due_after_one_business_day(datetime(2026, 11, 26, 1, 0), "US")
    assert due == datetime(2026, 11, 28, 1, 0)  # Friday 20:00 in New York


def test_a_saturday_morning_report_in_japan_counts_as_saturday() -> None:
    # Saturday 2026-11-28 08:30 in Tokyo is Friday 23:30 UTC, a business day in UTC.
    due = calendar.due_after_one_business_day(datetime(2026, 11, 27, 23, 30), "JP")
    assert due == datetime(2026, 11, 30, 15, 0)  # the end of Monday in Tokyo


def test_escalation_counts_business_days_where_the_reporter_is() -> None:
    due = datetime(2026, 11, 28, 1, 0)  # Friday 20:00 in New York
    assert calendar.escalation_level(due, datetime(2026, 11, 28, 0, 59), "US") == 0
    assert calendar.escalation_level(due, datetime(2026, 11, 29, 12, 0), "US") == 1  # weekend
    assert calendar.escalation_level(due, datetime(2026, 12, 1, 1, 0), "US") == 2  # Mon 20:00


def test_hand_off_is_due_in_calendar_days_from_awareness_by_seriousness(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aware = datetime(2026, 11, 23, 10, 0)  # 11:00 in Berlin
    assert calendar.handoff_due(aware, 2, "DE") == datetime(2026, 11, 30, 22, 59, 59)
    assert calendar.handoff_due(aware, 1, "DE") == datetime(2026, 12, 8, 22, 59, 59)
    assert calendar.handoff_due(aware, 0, "DE") == datetime(2026, 12, 23, 22, 59, 59)
    monkeypatch.setenv(calendar.NONSERIOUS_DAYS_ENV, "90")
    assert calendar.handoff_due(aware, 0, "DE") == datetime(2027, 2, 21, 22, 59, 59)


@pytest.mark.parametrize(
    ("text", "criteria"),
    [
        ("My father died two days after his first dose.", ["death"]),
        ("I almost died, my throat closed up.", ["life_threatening"]),
        ("I ended up in hospital for three nights with the rash.", ["hospitalisation"]),
        ("I was not hospitalised, just very dizzy.", []),
        ("I had a seizure after the second injection.", ["medically_important"]),
        (
            "Our baby was born with a heart defect; I took it while pregnant.",
            ["congenital_anomaly"],
        ),
        ("The numbness in my feet is permanent now.", []),
        ("I am permanently disabled since the infusion.", ["disability"]),
        ("Mild headache, nothing else.", []),
    ],
)
def test_seriousness_triage_reads_the_criteria(text: str, criteria: list[str]) -> None:
    assert assess([text]) == criteria


def test_levels() -> None:
    assert level(["death"]) == 2 and level(["life_threatening", "hospitalisation"]) == 2
    assert level(["hospitalisation"]) == 1 and level([]) == 0


def _case(session: Session, text: str, *, country: str = "DE") -> SafetyCase:
    reporter = make_stakeholder(session, type="patient", country_code=country)
    item = make_feedback(session, text, stakeholder_id=reporter.id)
    (case,) = screen_items(session, items=[item], now=NOW)[1]
    return case


def test_serious_cases_come_first_with_the_short_hand_off_clock(session: Session) -> None:
    make_taxonomy(session)
    mild = _case(session, "I had a mild headache after taking Immuny.")
    admitted = _case(session, "I was admitted to hospital with a rash after Immuny.")
    fatal = _case(session, "My husband died of a heart attack a week after starting Immuny.")

    assert fatal.seriousness == ["death", "medically_important"]
    assert fatal.handoff_due_at == calendar.handoff_due(fatal.aware_at, 2, "DE")
    assert admitted.seriousness_level == 1 and mild.seriousness_level == 0
    queue, total = service.list_cases(session)
    assert [case.id for case in queue] == [fatal.id, admitted.id, mild.id] and total == 3
    serious, _ = service.list_cases(session, case_filter=service.CaseFilter(serious=True))
    assert {case.id for case in serious} == {fatal.id, admitted.id}


def test_pv_corrects_seriousness_and_records_the_hand_off(session: Session) -> None:
    make_taxonomy(session)
    case = _case(session, "I had a mild headache after taking Immuny.")
    relaxed_due = case.handoff_due_at

    with pytest.raises(DomainError, match="criterion 'bad' is unknown"):
        service.set_seriousness(
            session, case_id=case.id, criteria=["bad"], user_id=None, reason="x"
        )
    service.set_seriousness(
        session,
        case_id=case.id,
        criteria=["hospitalisation"],
        user_id=None,
        reason="follow-up call: admitted overnight",
        now=NOW,
    )
    assert case.seriousness_by == "pv" and case.seriousness_level == 1
    assert relaxed_due is not None and case.handoff_due_at is not None
    assert case.handoff_due_at < relaxed_due

    with pytest.raises(service.CaseStateError, match="confirm it first"):
        service.record_handoff(session, case_id=case.id, reference="ARGUS-1", user_id=None)
    officer = signing_user(session, "pv_officer")
    service.decide(session, case_id=case.id, decision="confirmed", signer=signer(session, officer))
    service.record_handoff(session, case_id=case.id, reference="ARGUS-1", user_id=None, now=NOW)
    events = session.scalars(
        select(SafetyCaseEvent).where(SafetyCaseEvent.case_id == case.id)
    ).all()
    by_type = {event.event_type: event.details for event in events}
    assert by_type["seriousness_set"] == {
        "before": {"criteria": [], "by": "screening"},
        "criteria": ["hospitalisation"],
        "reason": "follow-up call: admitted overnight",
    }
    assert by_type["handed_off"] == {"reference": "ARGUS-1", "on_time": True}
    with pytest.raises(service.CaseStateError, match="handed off already"):
        service.record_handoff(session, case_id=case.id, reference="ARGUS-2", user_id=None)


def test_seriousness_and_hand_off_through_the_api_and_page(
    session: Session,
    session_maker: sessionmaker[Session],
    client_as: Callable[[str], TestClient],
) -> None:
    make_taxonomy(session)
    case = _case(session, "I had a mild headache after taking Immuny.")
    session.commit()
    pv = client_as("pv_officer")
    headers, _ = signing_headers(session_maker, "pv_officer")

    bad = pv.post(
        f"/api/v1/safety/cases/{case.id}/seriousness", json={"criteria": ["x"], "reason": "r"}
    )
    assert bad.status_code == 400 and "unknown" in bad.json()["detail"]
    set_ = pv.post(
        f"/api/v1/safety/cases/{case.id}/seriousness",
        json={"criteria": ["life_threatening"], "reason": "anaphylaxis on follow-up"},
    )
    assert set_.status_code == 200
    assert set_.json()["seriousness_level"] == 2 and set_.json()["seriousness_by"] == "pv"
    listed = pv.get("/api/v1/safety/cases", params={"serious": "true"}).json()
    assert [item["id"] for item in listed["items"]] == [case.id]
    assert (
        pv.post(
            f"/api/v1/safety/cases/{case.id}/handoff", json={"reference": "ARGUS-9"}
        ).status_code
        == 409
    )
    confirmed = pv.post(
        f"/api/v1/safety/cases/{case.id}/confirm", json=signature(), headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    handed = pv.post(f"/api/v1/safety/cases/{case.id}/handoff", json={"reference": "ARGUS-9"})
    assert handed.status_code == 200 and handed.json()["safety_db_reference"] == "ARGUS-9"

    page = pv.get(f"/safety/cases/{case.id}")
    assert "Life threatening" in page.text and "ARGUS-9" in page.text
    queue = pv.get("/safety", params={"status": "all"})
    assert "FATAL / LIFE-THREATENING" in queue.text
    form = pv.post(
        f"/safety/cases/{case.id}/seriousness",
        data={"criteria": ["hospitalisation"], "reason": "re-read the call notes"},
    )
    assert form.status_code == 200
    session.expire_all()
    assert session.get(SafetyCase, case.id).seriousness == ["hospitalisation"]  # type: ignore[union-attr]
