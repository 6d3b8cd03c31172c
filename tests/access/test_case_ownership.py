"""Cases belong to teams: only the owning team, the assignee, the RACI Accountable, and the
roles that route cases (admin, cx_lead) may change one; it is assigned only to people who may
open and work it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.auth.service import create_api_token, create_user
from cpxm.cases import service as cases
from cpxm.cases.models import Case
from cpxm.workspace.models import User
from tests.cases.helpers import make_org
from tests.factories import make_stakeholder


def _client_for(app: FastAPI, session: Session, user: User) -> TestClient:
    issued = create_api_token(session, user=user, name="tests")
    session.commit()
    return TestClient(app, headers={"Authorization": f"Bearer {issued.token}"})


def test_only_the_owning_team_accountable_and_routers_change_a_case(
    app: FastAPI, client_as: Callable[[str], TestClient], session: Session
) -> None:
    org = make_org(session)
    patient = make_stakeholder(session, type="patient", country_code="DE")
    case = cases.open_case(
        session, case_type="detractor", title="NPS 2", stakeholder_id=patient.id
    ).case
    complaint = cases.open_case(
        session, case_type="complaint", title="Pen broke", stakeholder_id=patient.id
    ).case
    session.commit()
    assert case.team_id == org.team.id and complaint.assignee_user_id == org.agent.id

    outsider = client_as("commercial")  # may work cases, but not this team's
    for path, body in (
        (f"/api/v1/cases/{case.id}/close", {"resolution_code": "resolved_fixed"}),
        (f"/api/v1/cases/{case.id}/comments", {"text": "mine now"}),
        (f"/api/v1/cases/{case.id}/assign", {"user_id": org.watcher.id}),
        (f"/api/v1/cases/{complaint.id}/close", {"resolution_code": "resolved_fixed"}),
    ):
        refused = outsider.post(path, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert "belongs to its team" in refused.json()["detail"]
    session.expire_all()
    assert session.get(Case, case.id).status == "open"  # type: ignore[union-attr]
    assert session.get(Case, complaint.id).status == "open"  # type: ignore[union-attr]
    # The outsider may still read it (the firewall does not hide detractor cases).
    assert outsider.get(f"/api/v1/cases/{case.id}").status_code == 200

    with _client_for(app, session, org.teammate) as teammate:  # commercial, on the team
        commented = teammate.post(f"/api/v1/cases/{case.id}/comments", json={"text": "called"})
        assert commented.status_code == 200, commented.text
    with _client_for(app, session, org.lead) as accountable:
        assert accountable.post(f"/api/v1/cases/{complaint.id}/start").status_code == 200
    closed = client_as("cx_lead").post(
        f"/api/v1/cases/{complaint.id}/close", json={"resolution_code": "resolved_fixed"}
    )
    assert closed.status_code == 200, closed.text


def test_a_case_is_assigned_only_to_people_who_may_open_and_work_it(
    app: FastAPI, session: Session
) -> None:
    org = make_org(session)
    analyst = create_user(session, email="numbers@example.org", role="analyst")
    hcp = make_stakeholder(session, type="hcp", country_code="DE")
    case = cases.open_case(
        session, case_type="detractor", title="NPS 1", stakeholder_id=hcp.id
    ).case
    inquiry = cases.open_case(
        session, case_type="medical_inquiry", title="Dosing", stakeholder_id=hcp.id
    ).case
    session.commit()
    with _client_for(app, session, org.agent) as agent:  # cx_lead, routes cases
        for user in (org.watcher, analyst):
            refused = agent.post(f"/api/v1/cases/{case.id}/assign", json={"user_id": user.id})
            assert refused.status_code == 422, refused.text
            assert "may not open and work" in refused.text
        # A commercial user may not open a medical inquiry: not an assignee for it either.
        refused = agent.post(
            f"/api/v1/cases/{inquiry.id}/assign", json={"user_id": org.teammate.id}
        )
        assert refused.status_code in (404, 422)  # cx_lead does not see medical inquiries
        session.expire_all()
        assert session.get(Case, case.id).team_id == org.team.id  # type: ignore[union-attr]
        moved = agent.post(f"/api/v1/cases/{case.id}/assign", json={"user_id": org.teammate.id})
        assert moved.status_code == 200, moved.text
        assert moved.json()["assignee_user_id"] == org.teammate.id
