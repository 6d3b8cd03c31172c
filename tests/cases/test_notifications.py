"""Notification emails go out through a real SMTP server on loopback, after the in-app record."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from cpxm.cases import notifications
from cpxm.cases import service as cases
from tests.cases.helpers import make_org


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Inbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CPXM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CPXM_SMTP_PORT", str(port))
    monkeypatch.setenv("CPXM_PUBLIC_URL", "https://cpxm.example")
    yield inbox
    controller.stop()


def test_notifications_are_emailed_once(session: Session, smtp: _Inbox) -> None:
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
