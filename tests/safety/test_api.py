from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cpxm.safety.screening import screen_items
from tests.auth.signing import signature, signing_headers
from tests.safety.helpers import make_feedback


def _case(session: Session, text: str = "I had a seizure after the second injection.") -> int:
    item = make_feedback(session, text, received_at=datetime(2026, 11, 23, 9, 0))
    (case,) = screen_items(session, items=[item], now=datetime(2026, 11, 23, 9, 5))[1]
    session.commit()
    return case.id


def test_pv_officer_works_a_case_through_the_api(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    case_id = _case(session)
    pv = TestClient(app, headers=signing_headers(session_maker, "pv_officer")[0])

    queue = pv.get("/api/v1/safety/cases", params={"status": "open"})
    assert queue.status_code == 200
    body = queue.json()
    assert body["total"] == 1 and body["items"][0]["id"] == case_id
    assert body["items"][0]["verbatim"].startswith("I had a seizure")

    assert pv.post(f"/api/v1/safety/cases/{case_id}/reject", json={}).status_code == 422
    assert pv.post(f"/api/v1/safety/cases/{case_id}/acknowledge").json()["status"] == (
        "acknowledged"
    )
    assert pv.post(f"/api/v1/safety/cases/{case_id}/acknowledge").status_code == 409
    confirmed = pv.post(
        f"/api/v1/safety/cases/{case_id}/confirm", json=signature(reason="valid AE")
    )
    assert confirmed.json()["status"] == "confirmed"
    detail = pv.get(f"/api/v1/safety/cases/{case_id}").json()
    assert [event["event_type"] for event in detail["events"]] == [
        "opened",
        "acknowledged",
        "confirmed",
    ]

    exported = pv.get("/api/v1/safety/cases/export", params={"format": "e2b"})
    assert exported.status_code == 200
    assert exported.json()["ichicsr"]["safetyreport"][0]["safetyreportid"] == f"CPXM-{case_id}"

    report = pv.get(
        "/api/v1/safety/reconciliation", params={"received_from": "2026-11-01T00:00:00"}
    ).json()
    assert report["zero_events"] is False and report["cases"][0]["id"] == case_id
    pdf = pv.get(
        "/api/v1/safety/reconciliation",
        params={"received_from": "2027-01-01T00:00:00", "format": "pdf"},
    )
    assert pdf.headers["content-type"] == "application/pdf"


def test_roles_without_the_safety_domain_cannot_see_cases(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    case_id = _case(session)
    for role in ("commercial", "analyst", "cx_lead", "viewer"):
        answer = client_as(role).get(f"/api/v1/safety/cases/{case_id}")
        assert answer.status_code == 403, role


def test_case_page_and_decision_form(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    case_id = _case(session)
    pv = TestClient(app, headers=signing_headers(session_maker, "pv_officer")[0])
    page = pv.get(f"/safety/cases/{case_id}")
    assert page.status_code == 200
    assert "I had a seizure" in page.text and "Identifiable patient" in page.text
    queue = pv.get("/safety")
    assert f"/safety/cases/{case_id}" in queue.text
    decided = pv.post(
        f"/safety/cases/{case_id}/decision",
        data={
            "action": "reject",
            **signature(meaning="rejected: not a case", reason="duplicate of a known report"),
        },
        follow_redirects=False,
    )
    assert decided.status_code == 303
    assert "duplicate of a known report" in pv.get(f"/safety/cases/{case_id}").text
