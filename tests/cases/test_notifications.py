"""Notification emails go out through a real SMTP server on loopback, after the in-app record."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cpxm.cases import notifications
from cpxm.cases import service as cases
from tests.cases.conftest import Inbox
from tests.cases.helpers import make_org


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
