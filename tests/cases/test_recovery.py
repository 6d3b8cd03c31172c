"""Service recovery: the re-survey after closure is a survey invitation the person receives (by
email, when consent and fatigue rules allow), answered on the respondent page, counted on the
case."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.cases import scan, service
from cpxm.cases.models import Case
from cpxm.stakeholders.models import Consent, Stakeholder
from cpxm.surveys.models import FatigueRule, Invitation
from cpxm.surveys.outbox import send_due_emails
from cpxm.timeutil import utc_now
from tests.cases.helpers import make_org
from tests.factories import make_response, make_stakeholder, make_survey
from tests.smtp import Inbox
from tests.surveys.helpers import make_invitation


def _person(session: Session, *, consent: str | None = "granted") -> Stakeholder:
    person = make_stakeholder(
        session, type="hcp", country_code="DE", email="dr.keller@example.org", language="de"
    )
    if consent is not None:
        session.add(
            Consent(
                stakeholder_id=person.id,
                purpose="survey",
                channel_code="email",
                status=consent,
                recorded_at=utc_now() - timedelta(days=30),
                source="crm",
            )
        )
        session.flush()
    return person


def _closed_case(session: Session, person: Stakeholder) -> Case:
    case = service.open_case(
        session, case_type="detractor", title="NPS 2", stakeholder_id=person.id
    ).case
    return service.close_case(
        session, case=case, actor_user_id=None, resolution_code="resolved_explained"
    )


def _events(session: Session, case: Case) -> list[str]:
    return [event.event_type for event in service.case_events(session, case_id=case.id)]


def test_the_person_is_emailed_the_re_survey_and_the_answer_counts(
    session: Session, session_maker: sessionmaker[Session], client: TestClient, smtp: Inbox
) -> None:
    make_org(session)
    case = _closed_case(session, _person(session))
    invitation = session.get(Invitation, case.recovery_invitation_id)
    assert invitation is not None and invitation.status == "pending"
    assert invitation.wave == f"case:{case.id}" and invitation.stakeholder_id == case.stakeholder_id
    assert _events(session, case)[-1] == "recovery_survey_created"
    assert case.recovery_token is None  # no more case-owned /r/ links

    # A re-survey invitation goes out like any other: through the survey outbox.
    assert send_due_emails(session_maker).sent == 1
    assert send_due_emails(session_maker).sent == 0  # once
    session.refresh(invitation)
    assert invitation.status == "sent"
    (message,) = smtp.messages
    assert message["To"] == "dr.keller@example.org"
    assert f"https://cpxm.example/s/{invitation.token}" in message.as_string()
    session.commit()

    page = client.get(f"/s/{invitation.token}")
    assert page.status_code == 200 and "Wie gut haben wir es gelöst?" in page.text  # German
    out_of_scale = client.post(f"/s/{invitation.token}", json={"answers": {"resolved_well": 11}})
    assert out_of_scale.status_code == 422
    answered = client.post(f"/s/{invitation.token}", json={"answers": {"resolved_well": 9}})
    assert answered.status_code == 201, answered.text

    scan.scan(session)
    session.refresh(case)
    assert case.recovery_score == 9 and case.recovery_answered_at is not None
    scan.scan(session, now=utc_now() + timedelta(minutes=5))  # re-read: counted once
    assert _events(session, case).count("recovery_answered") == 1
    # No detractor case for a low recovery answer: it is a rating, not an NPS.
    assert session.scalar(select(Case).where(Case.response_id.is_not(None))) is None
    figures = client.get("/api/v1/cases/recovery").json()
    assert (figures["surveyed"], figures["answered"], figures["recovered"]) == (1, 1, 1)
    assert figures["recovery_rate"] == 1.0
    assert "answered 9 of 10" in client.get(f"/cases/{case.id}").text
    shown = client.get(f"/api/v1/cases/{case.id}").json()
    assert shown["recovery_invitation_id"] == invitation.id and shown["recovery_score"] == 9


def test_rules_hold_the_re_survey_back_and_the_case_says_why(
    session: Session, client: TestClient
) -> None:
    make_org(session)
    without_consent = _closed_case(session, _person(session, consent=None))
    assert without_consent.recovery_invitation_id is None
    assert without_consent.recovery_held_reason == "no survey consent in force for email"
    shown = client.get(f"/api/v1/cases/{without_consent.id}").json()
    assert shown["recovery_held_reason"] == "no survey consent in force for email"
    assert _events(session, without_consent)[-1] == "recovery_survey_held"

    session.add(
        FatigueRule(
            code="one_per_quarter",
            kind="survey_interval",
            parameters={"days": 90},
            active=True,
            description="At most one survey invitation per 90 days",
        )
    )
    surveyed = _person(session)
    first = _closed_case(session, surveyed)
    assert first.recovery_invitation_id is not None
    invitation = session.get(Invitation, first.recovery_invitation_id)
    assert invitation is not None
    invitation.status, invitation.sent_at = "sent", utc_now()
    second = _closed_case(session, surveyed)  # another case, the same month
    assert second.recovery_invitation_id is None
    assert "less than 90 days ago" in (second.recovery_held_reason or "")
    assert service.recovery_figures(session).surveyed == 1


def test_closing_again_after_a_reopen_sends_no_second_re_survey(session: Session) -> None:
    make_org(session)
    case = _closed_case(session, _person(session))
    first = case.recovery_invitation_id
    service.reopen_case(session, case=case, actor_user_id=None, reason="called again")
    service.close_case(session, case=case, actor_user_id=None, resolution_code="resolved_fixed")
    assert case.recovery_invitation_id == first
    assert _events(session, case).count("recovery_survey_created") == 1
    assert session.scalars(select(Invitation)).all() == [session.get(Invitation, first)]


def test_duplicates_and_cases_about_nobody_are_not_re_surveyed(session: Session) -> None:
    make_org(session)
    duplicate = service.open_case(
        session, case_type="detractor", title="NPS 2", stakeholder_id=_person(session).id
    ).case
    service.close_case(session, case=duplicate, actor_user_id=None, resolution_code="duplicate")
    nobody = service.open_case(session, case_type="manual", title="Website typo").case
    service.close_case(session, case=nobody, actor_user_id=None, resolution_code="resolved_fixed")
    assert "recovery_survey_created" not in _events(session, duplicate) + _events(session, nobody)
    assert session.scalars(select(Invitation)).all() == []


def test_the_survey_that_opened_the_case_does_not_hold_its_re_survey_back(
    session: Session,
) -> None:
    """The interval rule counts other surveys, not the answer the recovery check follows up."""
    make_org(session)
    session.add(
        FatigueRule(
            code="one_per_quarter",
            kind="survey_interval",
            parameters={"days": 90},
            active=True,
            description="At most one survey invitation per 90 days",
        )
    )
    person = _person(session)

    def detractor_case() -> Case:
        survey = make_survey(session)
        invitation = make_invitation(session, survey, person)
        response = make_response(
            session, survey=survey, stakeholder=person, started_at=utc_now() - timedelta(days=3)
        )
        response.invitation_id = invitation.id
        case = service.open_case(
            session, case_type="detractor", title="NPS 2", stakeholder_id=person.id
        ).case
        case.response_id = response.id
        session.flush()
        return service.close_case(
            session, case=case, actor_user_id=None, resolution_code="resolved_explained"
        )

    followed_up = detractor_case()
    assert followed_up.recovery_invitation_id is not None, followed_up.recovery_held_reason
    # A second survey answered within the interval is another conversation: it still counts.
    held = detractor_case()
    assert held.recovery_invitation_id is None
    assert "less than 90 days ago" in (held.recovery_held_reason or "")
