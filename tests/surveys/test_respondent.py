"""The respondent pages, /s/{token}: pages, partial save and resume, and every kind of bad input."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Answer, Invitation, Question, Response
from cpxm.timeutil import utc_now
from tests.factories import make_stakeholder
from tests.surveys.helpers import (
    FULL_ANSWERS,
    make_invitation,
    make_open_link,
    setup_survey,
)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_invitation_pages_save_resume_and_finish(client: TestClient, session: Session) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    first = client.get(f"/s/{invitation.token}")
    assert first.status_code == 200
    assert "Dear Ada" in first.text  # the name is piped into the introduction
    assert 'lang="en"' in first.text
    assert "Page 1 of 3" in first.text

    saved = client.post(
        f"/s/{invitation.token}",
        data={"page": "1", "action": "next", "q_nps": "9", "q_reason": "Helpful MSL."},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/s/{invitation.token}?page=2"
    # Leaving and coming back resumes at page 2 with page 1's answers kept.
    resumed = client.get(f"/s/{invitation.token}")
    assert "Page 2 of 3" in resumed.text
    back = client.get(f"/s/{invitation.token}?page=1")
    assert 'value="9"\n        checked' in back.text or re.search(r'value="9"\s+checked', back.text)
    assert "Helpful MSL." in back.text
    session.expire_all()
    response = session.scalars(
        select(Response).where(Response.invitation_id == invitation.id)
    ).one()
    assert response.status == "partial"
    assert session.get(Invitation, invitation.id).status == "started"  # type: ignore[union-attr]

    client.post(
        f"/s/{invitation.token}",
        data={"page": "2", "action": "next", "q_csat": "4"},
        follow_redirects=False,
    )
    done = client.post(
        f"/s/{invitation.token}",
        data={"page": "3", "action": "submit", "q_nurse_access": "always"},
        follow_redirects=False,
    )
    assert done.headers["location"] == f"/s/{invitation.token}/thanks"
    thanks = client.get(f"/s/{invitation.token}/thanks")
    assert "Thank you, Ada" in thanks.text
    session.expire_all()
    assert response.status == "complete" and response.submitted_at is not None
    assert response.survey_version == 1 and response.stakeholder_id == invitation.stakeholder_id
    # The finished link cannot be used again.
    again = client.get(f"/s/{invitation.token}")
    assert again.status_code == 409 and "already answered" in again.text
    comment = session.scalars(
        select(FeedbackItem).where(FeedbackItem.response_id == response.id)
    ).one()
    assert comment.text == "Helpful MSL." and comment.source_kind == "survey_comment"
    assert (
        comment.analysis_status == "pending" and comment.stakeholder_id == invitation.stakeholder_id
    )


def test_json_submission_stores_once_and_double_submit_stores_nothing(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    first = client.post(f"/s/{invitation.token}", json={"answers": FULL_ANSWERS})
    assert first.status_code == 201, first.text
    assert first.json()["stored"] is True and first.json()["status"] == "complete"
    second = client.post(f"/s/{invitation.token}", json={"answers": FULL_ANSWERS})
    assert second.status_code == 200 and second.json()["stored"] is False
    assert _count(session, Response) == 1
    assert _count(session, Answer) == 10
    assert _count(session, FeedbackItem) == 1
    answers = {
        a.value_text or str(a.value_choices or a.value_number)
        for a in session.scalars(select(Answer))
    }
    assert "A" in answers  # the Kano pair (like, neutral) is Attractive
    assert "['portal:4', 'samples:2']" in answers


def test_bad_input_gets_clear_answers_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    url = f"/s/{invitation.token}"
    cases = [
        ({**FULL_ANSWERS, "nps": 11}, "outside the scale"),
        ({**FULL_ANSWERS, "csat": "five"}, "not a whole number"),
        ({**FULL_ANSWERS, "bogus": 3}, "unknown question id 'bogus'"),
        ({**FULL_ANSWERS, "reason": "x" * 2001}, "keep it to 2000 characters"),
        ({**FULL_ANSWERS, "channels": ["email", "fax"]}, "not one of the choices"),
        ({**FULL_ANSWERS, "portal_chat": {"functional": "like"}}, "both parts"),
        ({k: v for k, v in FULL_ANSWERS.items() if k != "nps"}, "needs an answer"),
    ]
    for answers, message in cases:
        refused = client.post(url, json={"answers": answers})
        assert refused.status_code == 422, (answers, refused.text)
        assert message in refused.text
    assert (
        client.post(url, content=b"nps=9", headers={"content-type": "text/plain"}).status_code
        == 415
    )
    assert (
        client.post(
            url, content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    huge = b'{"answers": {"reason": "' + b"x" * 300_000 + b'"}}'
    assert (
        client.post(url, content=huge, headers={"content-type": "application/json"}).status_code
        == 413
    )
    assert _count(session, Response) == 0 and _count(session, Answer) == 0


def test_tampered_expired_and_closed_links_get_friendly_pages(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    tampered = invitation.token[:-1] + ("A" if invitation.token[-1] != "A" else "B")
    for token in (tampered, "short", "bad%20token%3Cscript%3E", "x" * 200):
        page = client.get(f"/s/{token}")
        assert page.status_code == 404 and "This link does not work" in page.text
    assert client.post(f"/s/{tampered}", json={"answers": FULL_ANSWERS}).status_code == 404
    expired = make_invitation(session, survey, expires_at=utc_now() - timedelta(minutes=1))
    page = client.get(f"/s/{expired.token}")
    assert page.status_code == 410 and "expired" in page.text
    assert client.post(f"/s/{expired.token}", json={"answers": FULL_ANSWERS}).status_code == 410
    survey.status = "closed"
    session.flush()
    assert "closed" in client.get(f"/s/{invitation.token}").text
    assert _count(session, Response) == 0


def test_script_in_free_text_and_names_is_escaped(client: TestClient, session: Session) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    stakeholder_script = "<script>alert(1)</script>"
    invitation_holder = session.get(Invitation, invitation.id)
    assert invitation_holder is not None
    person = session.get(Stakeholder, invitation.stakeholder_id)
    assert person is not None
    person.first_name = stakeholder_script
    session.flush()
    page = client.post(
        f"/s/{invitation.token}",
        data={"page": "1", "action": "save", "q_nps": "3", "q_reason": '"><script>x()</script>'},
        follow_redirects=True,
    )
    # The page's own display-logic script is the only script element.
    assert page.text.count("<script>") == 1 and "<script>alert" not in page.text
    assert "<script>x()" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;script&gt;x()&lt;/script&gt;" in page.text


def test_form_errors_are_tied_to_fields_and_keep_answers(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    page = client.post(
        f"/s/{invitation.token}",
        data={"page": "1", "action": "next", "q_reason": "kept text"},
    )
    assert page.status_code == 422
    assert 'aria-describedby="error-nps"' in page.text
    assert 'id="error-nps"' in page.text and "kept text" in page.text
    assert 'href="#question-nps"' in page.text  # the error summary links to the field
    assert "This question needs an answer." in page.text


def test_error_messages_and_buttons_follow_the_respondent_language(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    german = make_stakeholder(session, first_name="Grete", language="de")
    invitation = make_invitation(session, survey, german)
    page = client.post(f"/s/{invitation.token}", data={"page": "1", "action": "next"})
    assert page.status_code == 422
    assert 'lang="de"' in page.text and "Bitte beantworten Sie diese Frage." in page.text
    assert "Weiter" in page.text and "Liebe/r Grete" in page.text


def test_display_logic_skips_hidden_questions(client: TestClient, session: Session) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    promoter = {**FULL_ANSWERS, "nps": 10}
    stored = client.post(f"/s/{invitation.token}", json={"answers": promoter})
    assert stored.status_code == 201
    codes = set(
        session.scalars(select(Answer.value_text).where(Answer.value_text.in_(["yes", "no"])))
    )
    assert codes == set()  # the follow-up question is only for NPS <= 6


def test_open_link_gives_each_respondent_a_resume_address(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    link = make_open_link(session, survey)
    page = client.get(f"/s/{link.token}")
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key is not None
    form = {"page": "1", "action": "next", "q_nps": "8", "key": key.group(1)}
    first = client.post(f"/s/{link.token}", data=form, follow_redirects=False)
    assert first.headers["location"] == f"/s/{key.group(1)}?page=2"
    # The same first page sent twice (double click) continues the same response.
    again = client.post(f"/s/{link.token}", data=form, follow_redirects=False)
    assert again.headers["location"] == f"/s/{key.group(1)}?page=2"
    assert _count(session, Response) == 1
    response = session.scalars(select(Response)).one()
    assert response.stakeholder_id is None and response.open_link_id == link.id
    # A second anonymous respondent gets a response of their own.
    other = client.post(f"/s/{link.token}", json={"answers": FULL_ANSWERS})
    assert other.status_code == 201
    assert _count(session, Response) == 2


def test_json_with_an_open_link_key_finishes_the_response_that_key_started(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    link = make_open_link(session, survey)
    key = "resume-key-of-one-respondent"
    form = {"page": "1", "action": "next", "q_nps": "3", "key": key}
    assert client.post(f"/s/{link.token}", data=form, follow_redirects=False).status_code == 303
    rest = {code: value for code, value in FULL_ANSWERS.items() if code != "nps"}
    finished = client.post(f"/s/{link.token}", json={"answers": rest, "key": key})
    assert finished.status_code == 201, finished.text
    response = session.scalars(select(Response)).one()
    assert response.status == "complete" and response.resume_token == key
    saved_nps = session.scalar(
        select(Answer.value_number)
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.response_id == response.id, Question.code == "nps")
    )
    assert saved_nps == 3.0  # the answer saved on page 1 counts and is kept
    # The key belongs to this link's respondent: another link cannot reach that response.
    other = make_open_link(session, survey)
    stolen = client.post(f"/s/{other.token}", json={"answers": rest, "key": key})
    assert stolen.status_code == 404
    assert _count(session, Response) == 1


def test_an_answer_hidden_by_a_changed_condition_is_not_kept(
    client: TestClient, session: Session
) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    url = f"/s/{invitation.token}"
    detractor = {"page": "1", "action": "save", "q_nps": "3", "q_detractor_followup": "yes"}
    client.post(url, data=detractor)
    assert "yes" in set(session.scalars(select(Answer.value_text)))
    promoter = {"page": "1", "action": "save", "q_nps": "10", "q_detractor_followup": "yes"}
    client.post(url, data=promoter)
    session.expire_all()
    assert "yes" not in set(session.scalars(select(Answer.value_text)))
