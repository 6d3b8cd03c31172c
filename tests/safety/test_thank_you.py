"""Issue 5 item 4: the survey thank-you page asks about contact when the answers hold an AE."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.safety.models import SafetyCase
from tests.surveys.helpers import FULL_ANSWERS, make_invitation, setup_survey


def test_thank_you_page_asks_and_stores_the_answer_with_the_case(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    answers = {**FULL_ANSWERS, "reason": "Since the last injection I have had a terrible rash."}
    assert client.post(f"/s/{invitation.token}", json={"answers": answers}).status_code == 201

    thanks = client.get(f"/s/{invitation.token}/thanks")
    assert thanks.status_code == 200
    assert "May our drug safety team contact you" in thanks.text
    case = session.scalars(select(SafetyCase)).one()
    assert case.kind == "ae" and case.contact_permission is None

    answered = client.post(
        f"/s/{invitation.token}/safety-contact", data={"allowed": "yes"}, follow_redirects=False
    )
    assert answered.status_code == 303
    session.expire_all()
    case = session.scalars(select(SafetyCase)).one()
    assert case.contact_permission is True and case.contact_permission_at is not None
    assert "may contact you" in client.get(f"/s/{invitation.token}/thanks").text


def test_no_question_without_a_possible_adverse_event(client: TestClient, session: Session) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    assert client.post(f"/s/{invitation.token}", json={"answers": FULL_ANSWERS}).status_code == 201
    thanks = client.get(f"/s/{invitation.token}/thanks")
    assert thanks.status_code == 200
    assert "safety team" not in thanks.text
    assert (
        client.post(f"/s/{invitation.token}/safety-contact", data={"allowed": "maybe"}).status_code
        == 422
    )
