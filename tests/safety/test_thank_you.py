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


def _submitted(client: TestClient, session: Session, reason: str, *, anonymous: bool) -> str:
    from cpxm.surveys.models import Response

    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    answers = {**FULL_ANSWERS, "reason": reason}
    assert client.post(f"/s/{invitation.token}", json={"answers": answers}).status_code == 201
    if anonymous:  # as an open link's response is: nobody known behind it
        session.scalars(select(Response)).one().stakeholder_id = None
        session.commit()
    return invitation.token


def test_a_product_complaint_is_asked_about_too(client: TestClient, session: Session) -> None:
    token = _submitted(
        client, session, "The pen from lot AB1234 leaked everywhere.", anonymous=False
    )
    thanks = client.get(f"/s/{token}/thanks")
    assert "a problem with a product" in thanks.text
    assert 'name="email"' not in thanks.text  # a known respondent: no details asked
    case = session.scalars(select(SafetyCase)).one()
    assert case.kind == "pc"


def test_an_anonymous_respondent_is_asked_how_to_be_reached(
    client: TestClient, session: Session
) -> None:
    token = _submitted(client, session, "Since the last injection I have a rash.", anonymous=True)
    thanks = client.get(f"/s/{token}/thanks")
    assert 'name="email"' in thanks.text and "does not know who you are" in thanks.text

    client.post(
        f"/s/{token}/safety-contact",
        data={"allowed": "yes", "name": "Sam", "email": "sam@example.org", "phone": ""},
    )
    session.expire_all()
    case = session.scalars(select(SafetyCase)).one()
    assert case.contact_permission is True and case.has_reporter is True
    assert case.reporter_identity == {
        "name": "Sam",
        "email": "sam@example.org",
        "source": "survey safety follow-up question",
    }
    assert "may contact you" in client.get(f"/s/{token}/thanks").text


def test_yes_without_details_is_told_no_one_can_call(client: TestClient, session: Session) -> None:
    token = _submitted(client, session, "Since the last injection I have a rash.", anonymous=True)
    client.post(f"/s/{token}/safety-contact", data={"allowed": "yes", "name": "Sam"})
    session.expire_all()
    case = session.scalars(select(SafetyCase)).one()
    assert case.contact_permission is True and case.reporter_identity is None
    thanks = client.get(f"/s/{token}/thanks").text
    assert "cannot contact you" in thanks and "may contact you" not in thanks


def test_a_survey_says_at_its_start_that_safety_events_are_passed_on(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    first = client.get(f"/s/{invitation.token}")
    assert first.status_code == 200 and "we must pass it on to our drug safety team" in first.text
    survey.kind = "employee_pulse"
    session.commit()
    assert "drug safety team" not in client.get(f"/s/{invitation.token}").text
