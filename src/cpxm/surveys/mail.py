"""Survey emails over SMTP, configured from the environment.

``CPXM_SMTP_HOST`` (default 127.0.0.1), ``CPXM_SMTP_PORT`` (25), ``CPXM_SMTP_SENDER``
(surveys@localhost), ``CPXM_SMTP_TLS`` (``none``, ``starttls`` or ``ssl``), ``CPXM_SMTP_USER`` and
``CPXM_SMTP_PASSWORD`` (only ever from the environment), ``CPXM_SMTP_TIMEOUT_SECONDS`` (15: the
longest one exchange with the server may take), and ``CPXM_PUBLIC_URL``, the address respondents
reach the server at (default http://127.0.0.1:8000), which links are built on.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from html import escape

TLS_MODES = ("none", "starttls", "ssl")


class MailConfigError(ValueError):
    pass


class MailServerUnreachable(RuntimeError):
    """The mail server could not be reached (or dropped the connection): emails wait."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "surveys@localhost"
    tls: str = "none"
    username: str | None = None
    password: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    timeout_seconds: float = 15.0


def smtp_settings() -> SmtpSettings:
    """The SMTP settings from the environment, checked."""
    env = os.environ
    tls = env.get("CPXM_SMTP_TLS", "none").strip().lower()
    if tls not in TLS_MODES:
        raise MailConfigError(f"CPXM_SMTP_TLS is '{tls}', expected one of {', '.join(TLS_MODES)}")
    port_text = env.get("CPXM_SMTP_PORT", "").strip()
    if port_text and not port_text.isdigit():
        raise MailConfigError(f"CPXM_SMTP_PORT is '{port_text}', expected a port number")
    default_port = {"none": 25, "starttls": 587, "ssl": 465}[tls]
    timeout_text = env.get("CPXM_SMTP_TIMEOUT_SECONDS", "").strip()
    try:
        timeout = float(timeout_text) if timeout_text else SmtpSettings.timeout_seconds
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 600:
        raise MailConfigError(
            f"CPXM_SMTP_TIMEOUT_SECONDS is '{timeout_text}', expected seconds between 0 and 600"
        )
    return SmtpSettings(
        host=env.get("CPXM_SMTP_HOST", "127.0.0.1").strip() or "127.0.0.1",
        port=int(port_text) if port_text else default_port,
        sender=env.get("CPXM_SMTP_SENDER", "surveys@localhost").strip() or "surveys@localhost",
        tls=tls,
        username=env.get("CPXM_SMTP_USER") or None,
        password=env.get("CPXM_SMTP_PASSWORD") or None,
        public_url=env.get("CPXM_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        timeout_seconds=timeout,
    )


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    link: str
    greeting: str
    # A Message-ID that is the same each time this email is sent again (``<...@...>``), so a
    # copy sent twice is recognisably one email; None: a new one per send.
    message_id: str | None = None


class Mailer:
    """One SMTP connection for a batch of emails."""

    def __init__(self, connection: smtplib.SMTP, settings: SmtpSettings) -> None:
        self.connection = connection
        self.settings = settings

    @property
    def sender_domain(self) -> str:
        return self.settings.sender.split("@")[-1]

    def send(self, email: Email) -> None:
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Message-ID"] = email.message_id or make_msgid(domain=self.sender_domain)
        message.set_content(f"{email.greeting}\n\n{email.text}\n\n{email.link}\n")
        # Every piece of text is escaped: names and survey texts come from data, not from us.
        message.add_alternative(
            f"<p>{escape(email.greeting)}</p><p>{escape(email.text)}</p>"
            f'<p><a href="{escape(email.link, quote=True)}">{escape(email.link)}</a></p>',
            subtype="html",
        )
        self.connection.send_message(message)


@contextmanager
def smtp_mailer(settings: SmtpSettings | None = None) -> Iterator[Mailer]:
    """Connect (with TLS and login as configured), yield a Mailer, and close."""
    settings = settings or smtp_settings()
    context = ssl.create_default_context()
    connection: smtplib.SMTP
    if settings.tls == "ssl":
        connection = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_seconds, context=context
        )
    else:
        connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    try:
        if settings.tls == "starttls":
            connection.starttls(context=context)
        if settings.username:
            connection.login(settings.username, settings.password or "")
        yield Mailer(connection, settings)
    finally:
        try:
            connection.quit()
        except OSError:  # smtplib's errors too: the connection is gone already
            connection.close()
