"""The survey outbox: due emails go once, refusals and an unreachable server wait and retry."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.stakeholders.models import Consent, Stakeholder
from cpxm.surveys.distribution import create_invitations, invitation_message_id, plan_wave
from cpxm.surveys.mail import SmtpSettings
from cpxm.surveys.models import Invitation
from cpxm.surveys.outbox import send_due_emails
from tests.factories import make_stakeholder
from tests.smtp import Inbox, free_port, smtp_server
from tests.surveys.helpers import setup_survey

NOW = datetime(2026, 6, 15, 12, 0)


def _settings(port: int) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, public_url="https://cx.example")


def _person(session: Session, email: str) -> Stakeholder:
    person = make_stakeholder(
        session, type="hcp", country_code="DE", therapeutic_areas=("oncology",), email=email
    )
    session.add(
        Consent(
            stakeholder_id=person.id,
            purpose="survey",
            channel_code="email",
            status="granted",
            recorded_at=NOW - timedelta(days=400),
            source="crm",
        )
    )
    session.flush()
    return person


def _invite(session: Session, *emails: str) -> dict[str, int]:
    survey = setup_survey(session)
    survey.status = "active"
    people = {_person(session, email).id: email for email in emails}
    plan = plan_wave(session, survey=survey, wave="2026-06", channel="email", now=NOW)
    invitations = create_invitations(session, plan=plan, now=NOW)
    return {people[invitation.stakeholder_id]: invitation.id for invitation in invitations}


def _state(session: Session, invitation_id: int) -> Invitation:
    session.expire_all()
    return session.scalars(select(Invitation).where(Invitation.id == invitation_id)).one()


def test_due_emails_go_once_and_a_refused_address_waits_with_its_reason(
    session: Session, session_maker: sessionmaker[Session]
) -> None:
    ids = _invite(session, "anna@example.org", "gone@example.org")
    with smtp_server(Inbox(refuse={"gone@example.org"})) as (inbox, port):
        first = send_due_emails(session_maker, settings=_settings(port), clock=lambda: NOW)
        again = send_due_emails(session_maker, settings=_settings(port), clock=lambda: NOW)
    assert (first.sent, first.refused, again.sent, again.refused) == (1, 1, 0, 0)
    (message,) = inbox.messages
    sent = _state(session, ids["anna@example.org"])
    assert message["To"] == "anna@example.org"
    assert (sent.status, sent.sent_at, sent.send_attempts, sent.next_send_at) == (
        "sent",
        NOW,
        0,
        None,
    )
    # A copy sent again would be recognisably the same email; the token is not in the header.
    assert message["Message-ID"] == invitation_message_id(sent, False, "localhost")
    assert sent.token not in message["Message-ID"]

    refused = _state(session, ids["gone@example.org"])
    assert (refused.status, refused.send_attempts) == ("pending", 1)
    assert refused.next_send_at == NOW + timedelta(minutes=1)
    assert refused.send_error is not None and "550" in refused.send_error


def test_an_unreachable_server_backs_every_email_off_with_one_log_line(
    session: Session, session_maker: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    ids = _invite(session, "anna@example.org", "bruno@example.org")
    down = _settings(free_port())
    caplog.set_level(logging.INFO, logger="cpxm")

    report = send_due_emails(session_maker, settings=down, clock=lambda: NOW)
    assert (report.sent, report.waiting) == (0, 2)
    assert report.unreachable is not None and "ConnectionRefusedError" in report.unreachable
    (line,) = [record for record in caplog.records if record.name.startswith("cpxm")]
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert "2 email(s) wait, next attempt in 1 min" in line.getMessage()
    for invitation_id in ids.values():
        waiting = _state(session, invitation_id)
        assert (waiting.status, waiting.send_attempts) == ("pending", 1)
        assert waiting.next_send_at == NOW + timedelta(minutes=1)
        assert waiting.send_error is not None and "cannot reach" in waiting.send_error

    caplog.clear()  # within the back-off nothing is tried, and nothing is said
    within = send_due_emails(
        session_maker, settings=down, clock=lambda: NOW + timedelta(seconds=30)
    )
    assert (within.waiting, within.unreachable) == (0, None)
    assert not [record for record in caplog.records if record.name.startswith("cpxm")]
    second_try = NOW + timedelta(seconds=61)
    assert send_due_emails(session_maker, settings=down, clock=lambda: second_try).waiting == 2
    assert _state(session, ids["anna@example.org"]).next_send_at == second_try + timedelta(
        minutes=2
    )

    back = NOW + timedelta(minutes=4)
    with smtp_server() as (inbox, port):
        report = send_due_emails(session_maker, settings=_settings(port), clock=lambda: back)
    assert (report.sent, report.waiting) == (2, 0)
    assert sorted(message["To"] for message in inbox.messages) == sorted(ids)
    delivered = _state(session, ids["bruno@example.org"])
    assert (delivered.status, delivered.send_attempts, delivered.send_error) == ("sent", 0, None)


def test_an_expired_invitation_is_no_longer_retried(
    session: Session, session_maker: sessionmaker[Session]
) -> None:
    ids = _invite(session, "anna@example.org")
    after_expiry = NOW + timedelta(days=30)
    report = send_due_emails(
        session_maker, settings=_settings(free_port()), clock=lambda: after_expiry
    )
    assert (report.sent, report.waiting, report.unreachable) == (0, 0, None)
    assert _state(session, ids["anna@example.org"]).send_attempts == 0


def test_a_server_that_closes_after_a_few_emails_is_connected_to_again(
    session: Session, session_maker: sessionmaker[Session]
) -> None:
    ids = _invite(session, *(f"hcp{n}@example.org" for n in range(5)))
    with smtp_server(Inbox(messages_per_connection=2)) as (inbox, port):
        report = send_due_emails(session_maker, settings=_settings(port), clock=lambda: NOW)
        # Two on the first connection, the third turned away as it closed, two on the next one;
        # the third waits its minute.
        assert (report.sent, report.refused, report.unreachable) == (4, 0, None)
        session.expire_all()
        pending = session.scalars(select(Invitation).where(Invitation.status == "pending")).one()
        assert (pending.send_attempts, pending.next_send_at) == (1, NOW + timedelta(minutes=1))
        later = NOW + timedelta(minutes=1)
        assert (
            send_due_emails(session_maker, settings=_settings(port), clock=lambda: later).sent == 1
        )
    assert sorted(message["To"] for message in inbox.messages) == sorted(ids)


def test_reminders_asked_for_on_one_survey_go_to_its_invitees_only(
    session: Session, session_maker: sessionmaker[Session]
) -> None:
    from cpxm.surveys.outbox import ReminderRule
    from tests.surveys.helpers import make_example_survey

    ids = _invite(session, "anna@example.org")
    other = make_example_survey(session, code="other_pulse", status="active")
    person = _person(session, "ben@example.org")
    plan = plan_wave(session, survey=other, wave="2026-06", channel="email", now=NOW)
    (theirs,) = [
        i for i in create_invitations(session, plan=plan, now=NOW) if i.stakeholder_id == person.id
    ]
    for invitation_id in (ids["anna@example.org"], theirs.id):
        invitation = _state(session, invitation_id)
        invitation.status, invitation.sent_at = "sent", NOW - timedelta(days=4)
        session.flush()
    session.commit()
    mine = _state(session, ids["anna@example.org"]).survey_id
    with smtp_server(Inbox()) as (inbox, port):
        report = send_due_emails(
            session_maker,
            reminders=ReminderRule(after_days=3, max_reminders=1, survey_id=mine),
            settings=_settings(port),
            clock=lambda: NOW,
        )
    # Due first emails go out with any run; of the reminders, only this survey's.
    reminders = [m for m in inbox.messages if m["Subject"].startswith("Reminder")]
    assert report.sent == len(inbox.messages)
    assert [m["To"] for m in reminders] == ["anna@example.org"]
    assert _state(session, ids["anna@example.org"]).reminders_sent == 1
    assert _state(session, theirs.id).reminders_sent == 0
