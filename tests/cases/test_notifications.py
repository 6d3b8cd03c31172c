"""Notification emails go out through a real SMTP server on loopback, after the in-app record."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cpxm.cases import notifications
from cpxm.cases import service as cases
from tests.cases.helpers import make_org
from tests.smtp import Inbox


def test_notifications_are_emailed_once(session: Session, smtp: Inbox) -> None:
    org = make_org(session)
    case = cases.open_case(session, case_type="complaint", title="Cracked pen").case
    assert notifications.send_pending_emails(session) == 1
    assert notifications.send_pending_emails(session) == 0
    (message,) = smtp.messages
    assert message["To"] == org.agent.email
    assert message["Subject"] == f"[CPXM] New case {case.id}: Cracked pen"
    assert f"https://cpxm.example/cases/{case.id}" in message.as_string()


def test_without_smtp_configured_nothing_is_sent(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CPXM_SMTP_HOST", raising=False)
    make_org(session)
    cases.open_case(session, case_type="complaint", title="Cracked pen")
    assert notifications.send_pending_emails(session) == 0


def test_notify_raci_tells_the_accountable_and_informed_of_a_scope(
    session: Session, smtp: Inbox
) -> None:
    org = make_org(session)
    sent = notifications.notify_raci(
        session,
        activity="detractor_followup",
        country="DE",
        stakeholder_type="patient",
        subject="Safety case 12 unacknowledged",
        body="Nobody has acknowledged it for a business day.",
        link="/safety/cases/12",
    )
    assert sorted(n.user_id for n in sent) == sorted([org.lead.id, org.watcher.id])
    assert {n.link for n in sent} == {"/safety/cases/12"}
    assert notifications.send_pending_emails(session) == 2
    assert {m["To"] for m in smtp.messages} == {org.lead.email, org.watcher.email}
    # Only the letters asked for: the Responsible team of that scope.
    responsible = notifications.notify_raci(
        session,
        activity="detractor_followup",
        letters=("responsible",),
        subject="s",
        body="b",
    )
    assert sorted(n.user_id for n in responsible) == sorted([org.agent.id, org.teammate.id])


def test_notify_raci_falls_back_to_roles_when_nobody_is_named(session: Session) -> None:
    org = make_org(session)
    sent = notifications.notify_raci(
        session,
        activity="safety_case",  # the test matrix names nobody for it
        subject="Safety case 3 unacknowledged",
        body="b",
        fallback_roles=("cx_lead",),
    )
    assert sorted(n.user_id for n in sent) == sorted([org.agent.id, org.lead.id])
