"""Cases through HTTP: who may see and work them, the pages, and the public recovery question."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import pseudonym
from cpxm.auth.models import UserSession
from cpxm.auth.service import create_api_token, create_user
from cpxm.cases import service
from tests.cases.helpers import make_org
from tests.factories import make_stakeholder


def test_open_work_and_close_a_case_through_the_api(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    org = make_org(session)
    hcp = make_stakeholder(session, type="hcp", country_code="DE")
    issued = create_api_token(session, user=org.teammate, name="tests")
    session.commit()
    # A commercial user of the team the matrix routes the case to (cases belong to teams).
    worker = client_as("commercial")
    worker.headers["Authorization"] = f"Bearer {issued.token}"
    opened = worker.post(
        "/api/v1/cases",
        json={"title": "Called about late samples", "stakeholder_id": hcp.id, "priority": "high"},
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["case_type"] == "manual" and case["sla_business_hours"] == 8
    assert [e["event_type"] for e in case["events"]] == ["opened", "routed", "informed"]
    case_id = case["id"]
    assert (
        worker.post(f"/api/v1/cases/{case_id}/comments", json={"text": "Called back"}).status_code
        == 200
    )
    bad = worker.post(f"/api/v1/cases/{case_id}/close", json={"resolution_code": "whatever"})
    assert bad.status_code == 422
    closed = worker.post(
        f"/api/v1/cases/{case_id}/close", json={"resolution_code": "resolved_fixed"}
    ).json()
    assert closed["status"] == "closed"
    # No survey consent or address on record: the re-survey is held back; the trail says why.
    assert closed["events"][-1]["event_type"] == "recovery_survey_held"
    assert closed["events"][-1]["details"]["rules"] == ["survey_consent", "contact_details"]
    again = worker.post(f"/api/v1/cases/{case_id}/start")
    assert again.status_code == 409
    assert "reopen it first" in again.json()["detail"]
    # Analysts read figures, not cases to work.
    analyst = client_as("analyst")
    assert analyst.post(f"/api/v1/cases/{case_id}/reopen", json={"reason": "x"}).status_code == 403
    assert analyst.get("/api/v1/cases/recovery").json()["surveyed"] == 0
    assert client_as("viewer").get("/api/v1/cases").status_code == 403


def test_medical_inquiry_cases_stay_behind_the_firewall(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_org(session)
    case = service.open_case(session, case_type="medical_inquiry", title="Renal dosing").case
    service.open_case(session, case_type="manual", title="Late samples")
    session.commit()
    commercial = client_as("commercial")
    titles = [c["title"] for c in commercial.get("/api/v1/cases").json()["items"]]
    assert titles == ["Late samples"]
    assert commercial.get(f"/api/v1/cases/{case.id}").status_code == 404
    assert commercial.get(f"/cases/{case.id}").status_code == 404
    medical = client_as("medical")
    assert medical.get(f"/api/v1/cases/{case.id}").json()["title"] == "Renal dosing"


def test_notifications_are_personal(
    client_as: Callable[[str], TestClient], client: TestClient, session: Session
) -> None:
    org = make_org(session)
    case = service.open_case(session, case_type="complaint", title="Cracked pen").case
    issued = create_api_token(session, user=org.agent, name="tests")
    session.commit()
    agent = {"Authorization": f"Bearer {issued.token}"}
    mine = client.get("/api/v1/notifications", headers=agent).json()
    assert [n["link"] for n in mine["items"]] == [f"/cases/{case.id}"]
    assert client_as("cx_lead").get("/api/v1/notifications").json()["total"] == 0
    others = client_as("cx_lead").post(
        "/api/v1/notifications/read", json={"ids": [mine["items"][0]["id"]]}
    )
    assert others.json() == {"marked": 0}
    marked = client.post(
        "/api/v1/notifications/read", json={"ids": [mine["items"][0]["id"]]}, headers=agent
    )
    assert marked.json() == {"marked": 1}
    assert client.get("/api/v1/notifications?unread=true", headers=agent).json()["total"] == 0


def test_case_pages_show_the_trail_pseudonymise_patients_and_take_csrf_forms(
    anonymous_client: TestClient, session: Session
) -> None:
    org = make_org(session)
    patient = make_stakeholder(session, type="patient", display_name="Maria Keller")
    create_user(
        session,
        email="sales@example.org",
        role="commercial",
        password="sales-rep-passphrase-7",
        team_id=org.team.id,  # the team the case is routed to: it may work it
    )
    case = service.open_case(
        session, case_type="manual", title="Call back", stakeholder_id=patient.id
    ).case
    session.commit()
    page = anonymous_client.get("/auth/sign-in")
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert form_token
    anonymous_client.post(
        "/auth/sign-in",
        data={
            "email": "sales@example.org",
            "password": "sales-rep-passphrase-7",
            "csrf_token": form_token[1],
        },
    )
    inbox = anonymous_client.get("/cases?view=all")
    assert inbox.status_code == 200 and "Call back" in inbox.text
    detail = anonymous_client.get(f"/cases/{case.id}")
    assert "Maria Keller" not in detail.text
    assert pseudonym(session, patient.id) in detail.text
    assert "Routed" in detail.text
    csrf = session.scalars(select(UserSession.csrf_token)).one()
    forged = anonymous_client.post(
        f"/cases/{case.id}/action", data={"action": "comment", "text": "hi"}
    )
    assert forged.status_code == 403
    done = anonymous_client.post(
        f"/cases/{case.id}/action",
        data={"action": "close", "resolution_code": "resolved_explained", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    session.refresh(case)
    assert case.status == "closed" and case.recovery_token is None
    # A /r/ link of a case closed before re-surveys were survey invitations keeps working: it
    # is public, needs no JavaScript, and takes one answer.
    case.recovery_token, case.recovery_sent_at = "closed-before-the-upgrade", case.closed_at
    session.commit()
    anonymous_client.cookies.clear()
    question = anonymous_client.get(f"/r/{case.recovery_token}")
    assert question.status_code == 200 and 'type="radio"' in question.text
    answered = anonymous_client.post(f"/r/{case.recovery_token}", data={"score": "8"})
    assert "Thank you" in answered.text
    assert (
        anonymous_client.post(f"/r/{case.recovery_token}", data={"score": "1"}).status_code == 200
    )
    session.refresh(case)
    assert case.recovery_score == 8
    assert anonymous_client.get("/r/not-a-token").status_code == 404
