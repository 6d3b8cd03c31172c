"""Distribution: who is invited, who is held back by which rule, and emails over real SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cpxm.stakeholders.models import Consent, Stakeholder
from cpxm.surveys.distribution import (
    create_invitations,
    deliver_invitations,
    expire_invitations,
    invite_after_contacts,
    plan_wave,
    reminder_due_ids,
)
from cpxm.surveys.mail import SmtpSettings, smtp_mailer
from cpxm.surveys.models import FatigueRule, Invitation, Survey
from cpxm.surveys.service import save_definition
from tests.factories import make_interaction, make_stakeholder
from tests.smtp import Inbox, smtp_server
from tests.surveys.helpers import example_document, setup_survey

NOW = datetime(2026, 6, 15, 12, 0)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    with smtp_server() as (inbox, port):
        yield inbox, SmtpSettings(host="127.0.0.1", port=port, public_url="https://cx.example")


def _hcp(session: Session, *, consent: str | None = "granted", **fields: Any) -> Stakeholder:
    fields.setdefault("email", f"hcp{id(fields)}@example.org")
    person = make_stakeholder(
        session,
        type="hcp",
        country_code="DE",
        therapeutic_areas=("oncology",),
        first_name="Grete",
        language="de",
        **fields,
    )
    if consent is not None:
        session.add(
            Consent(
                stakeholder_id=person.id,
                purpose="survey",
                channel_code="email",
                status=consent,
                recorded_at=NOW - timedelta(days=400),
                source="crm",
            )
        )
        session.flush()
    return person


def _active_survey(session: Session) -> Survey:
    survey = setup_survey(session)
    survey.status = "active"
    session.flush()
    return survey


def _held(plan: Any) -> dict[int, set[str]]:
    return {s.id: {h.rule for h in holds} for s, holds in plan.held}


def test_plan_applies_consent_and_every_fatigue_rule(session: Session) -> None:
    survey = _active_survey(session)
    free = _hcp(session)
    no_consent = _hcp(session, consent=None)
    withdrawn = _hcp(session)
    session.add(
        Consent(
            stakeholder_id=withdrawn.id,
            purpose="survey",
            channel_code=None,
            status="withdrawn",
            recorded_at=NOW - timedelta(minutes=5),
            source="web form",
        )
    )
    busy = _hcp(session)
    for department, days in (("sales", 1), ("medical_affairs", 2), ("patient_services", 6)):
        make_interaction(
            session,
            stakeholder=busy,
            department_code=department,
            occurred_at=NOW - timedelta(days=days),
        )
    recently_surveyed = _hcp(session)
    other = save_definition(session, document={**example_document(), "code": "other"}).survey
    session.add(
        Invitation(
            survey_id=other.id,
            stakeholder_id=recently_surveyed.id,
            token="t" * 22,
            channel_code="email",
            status="sent",
            sent_at=NOW - timedelta(days=30),
        )
    )
    no_email = _hcp(session, email=None)
    outside_audience = make_stakeholder(session, type="patient", country_code="DE")
    session.flush()

    plan = plan_wave(session, survey=survey, wave="2026-06", channel="email", now=NOW)
    assert [s.id for s in plan.invite] == [free.id]
    held = _held(plan)
    assert held[no_consent.id] == {"survey_consent"}
    assert held[withdrawn.id] == {"survey_consent"}  # withdrawal honoured at once
    assert held[busy.id] == {"rest_after_busy_week"}  # three contacts, any department
    assert held[recently_surveyed.id] == {"one_survey_per_90_days"}
    assert held[no_email.id] == {"contact_details"}
    assert outside_audience.id not in held

    christmas = datetime(2026, 12, 24, 10, 0)
    quiet = plan_wave(session, survey=survey, wave="2026-12", channel="email", now=christmas)
    assert not quiet.invite and "year_end_quiet_period" in _held(quiet)[free.id]
    # A rule switched off stops holding people back.
    session.execute(
        update(FatigueRule).where(FatigueRule.code == "year_end_quiet_period").values(active=False)
    )
    december = plan_wave(session, survey=survey, wave="2026-12", channel="email", now=christmas)
    # Six months on, the busy week and the last survey no longer hold anyone back either.
    assert {s.id for s in december.invite} == {free.id, busy.id, recently_surveyed.id}


def test_one_invitation_per_stakeholder_per_wave_and_emails_over_smtp(
    session: Session, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    survey = _active_survey(session)
    person = _hcp(session, email="grete@example.org", display_name="Dr <b>Grete</b> Roth")
    plan = plan_wave(session, survey=survey, wave="2026-06", channel="email", now=NOW)
    invitations = create_invitations(session, plan=plan, now=NOW)
    assert len(invitations) == 1 and invitations[0].status == "pending"
    again = plan_wave(session, survey=survey, wave="2026-06", channel="email", now=NOW)
    assert again.invite == [] and again.already_invited == 1

    with smtp_mailer(settings) as mailer:
        sent, failed = deliver_invitations(
            session, invitation_ids=[invitations[0].id], mailer=mailer, now=NOW
        )
    assert (sent, failed) == (1, 0)
    assert invitations[0].status == "sent" and invitations[0].sent_at == NOW
    message = inbox.messages[0]
    assert message["To"] == "grete@example.org"
    assert "Ihre Meinung" in message["Subject"]  # the stakeholder's language
    parts = {
        part.get_content_type(): bytes(part.get_payload(decode=True)).decode()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert f"https://cx.example/s/{invitations[0].token}" in parts["text/plain"]
    assert "<b>Grete</b>" not in parts["text/html"] and "&lt;b&gt;" in parts["text/html"]

    # Consent withdrawn after the send: the reminder is not sent.
    session.add(
        Consent(
            stakeholder_id=person.id,
            purpose="survey",
            channel_code="email",
            status="withdrawn",
            recorded_at=NOW + timedelta(days=1),
            source="unsubscribe link",
        )
    )
    session.flush()
    later = NOW + timedelta(days=8)
    due = reminder_due_ids(session, now=later)
    assert due == [invitations[0].id]
    with smtp_mailer(settings) as mailer:
        sent, failed = deliver_invitations(
            session, invitation_ids=due, mailer=mailer, now=later, reminder=True
        )
    assert (sent, failed) == (0, 1) and len(inbox.messages) == 1
    assert invitations[0].send_error == "no survey consent in force for email"

    assert expire_invitations(session, now=NOW + timedelta(days=30)) == 1
    assert invitations[0].status == "expired"


def test_trigger_invites_three_days_after_an_msl_visit(session: Session) -> None:
    document = example_document()
    document["status"] = "active"
    document["trigger"] = {"interaction_types": ["msl_visit"], "days_after": 3}
    from tests.factories import make_taxonomy

    make_taxonomy(session)
    survey = save_definition(session, document=document).survey
    person = _hcp(session)
    visit = make_interaction(
        session,
        stakeholder=person,
        interaction_type="msl_visit",
        occurred_at=NOW - timedelta(days=3, hours=2),
    )
    make_interaction(
        session,
        stakeholder=_hcp(session),
        interaction_type="rep_visit",
        occurred_at=NOW - timedelta(days=3, hours=2),
    )
    too_recent = _hcp(session)
    make_interaction(
        session,
        stakeholder=too_recent,
        interaction_type="msl_visit",
        occurred_at=NOW - timedelta(days=1),
    )
    invitations, held = invite_after_contacts(session, survey=survey, now=NOW)
    assert [(i.stakeholder_id, i.trigger_interaction_id) for i in invitations] == [
        (person.id, visit.id)
    ]
    assert held == 0
    # The next hourly run does not invite for the same contact again.
    assert invite_after_contacts(session, survey=survey, now=NOW + timedelta(hours=1))[0] == []
    assert session.scalars(select(Invitation).where(Invitation.survey_id == survey.id)).all()
