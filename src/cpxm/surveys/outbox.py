"""Invitation emails kept in the store until they are sent: the store is the outbox.

An invitation's email is due while the store says so (``email_due``, ``reminder_due``: pending or
with a reminder owed, and ``next_send_at`` empty or past). A worker sends the due emails one at a
time, each in three steps with their own transactions:

1. claim: count the attempt and move ``next_send_at`` past the longest one attempt can take
   (``claim_lease``), so no other worker sends it meanwhile; render the email;
2. send it over the connection the run opened;
3. record the outcome: sent (``status``/``sent_at`` or the reminder count, the attempts reset),
   or refused (no consent, no address, the server refused this message) with the reason in
   ``send_error`` and a back-off (``retry_delay``).

A mail server that cannot be reached (or drops the connection) backs every due email off
together and costs one log line per attempt, never a traceback; the emails go out once it
answers, unless their invitation expires first.

**Guarantee: every due email is sent at least once, and normally once.** A worker killed before
the server accepted an email leaves only its claim, which lapses: the email goes out later. The
one window for a second copy is between the server's acceptance and step 3's commit; that copy
carries the same Message-ID (``invitation_message_id``), so mail clients that deduplicate show
one email.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, DateTime, and_, case, func, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.definition import SurveyDefinition
from cpxm.surveys.distribution import (
    email_due,
    failure_changes,
    invitation_email,
    record_failure,
    refusal_reason,
    reminder_due,
    retry_delay,
    sent_changes,
)
from cpxm.surveys.fatigue import holds_for
from cpxm.surveys.mail import Email, MailConfigError, Mailer, SmtpSettings, smtp_mailer
from cpxm.surveys.mail import smtp_settings as configured_smtp_settings
from cpxm.surveys.models import Invitation, Survey
from cpxm.surveys.service import current_definition
from cpxm.timeutil import utc_now

logger = logging.getLogger(__name__)
EmailKind = Literal["invitation", "reminder"]


@dataclass(frozen=True)
class ReminderRule:
    after_days: int
    max_reminders: int
    # Only this survey's invitations (a reminder sent from its page); None: every survey's.
    survey_id: int | None = None


@dataclass
class DeliveryReport:
    sent: int = 0
    refused: int = 0
    # Due emails left for a later attempt because the mail server could not be reached.
    waiting: int = 0
    unreachable: str | None = None


def claim_lease(settings: SmtpSettings) -> timedelta:
    """The longest one send can take: a few exchanges with the server, each within its timeout."""
    return timedelta(seconds=4 * settings.timeout_seconds)


def send_due_emails(
    make_session: sessionmaker[Session],
    *,
    reminders: ReminderRule | None = None,
    settings: SmtpSettings | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> DeliveryReport:
    """Send every due invitation email (and the due reminders, given a ``reminders`` rule).

    Commits as it goes (see the module docstring), so it takes a sessionmaker, not a session.
    """
    report = DeliveryReport()
    kinds: list[EmailKind] = ["invitation", "reminder"] if reminders else ["invitation"]
    with make_session() as session:
        due = sum(_count_due(session, kind, clock(), reminders) for kind in kinds)
    if not due:
        return report
    while True:
        sent_before = report.sent
        try:
            settings = settings or configured_smtp_settings()
            with smtp_mailer(settings) as mailer:
                for kind in kinds:
                    _send_all(make_session, mailer, kind, reminders, clock, report)
            break
        except MailConfigError as error:
            report.unreachable = f"mail is not configured right: {error}"
            break
        except OSError as error:  # unreachable, TLS, a refused login, a dropped connection
            if report.sent > sent_before:
                continue  # it took emails on this connection, then closed it: connect again
            where = f"{settings.host}:{settings.port}" if settings else "?"
            report.unreachable = f"cannot reach the mail server at {where} ({_reason(error)})"
            break
    if report.unreachable:
        # Nothing more can go now. The email in flight was recorded; the rest wait together.
        now = clock()
        with make_session() as session, session.begin():
            waits = [_back_off_due(session, k, now, reminders, report.unreachable) for k in kinds]
        report.waiting = sum(count for count, _ in waits)
        soonest = min((delay for _, delay in waits if delay is not None), default=None)
        logger.warning(
            "survey emails: %s; %d email(s) wait%s",
            report.unreachable,
            report.waiting,
            f", next attempt in {_minutes(soonest)}" if soonest else "",
        )
    if report.sent or report.refused:
        logger.info("survey emails: %d sent, %d refused", report.sent, report.refused)
    return report


def _send_all(
    make_session: sessionmaker[Session],
    mailer: Mailer,
    kind: EmailKind,
    reminders: ReminderRule | None,
    clock: Callable[[], datetime],
    report: DeliveryReport,
) -> None:
    definitions: dict[tuple[int, int], SurveyDefinition] = {}
    lease = claim_lease(mailer.settings)
    while True:
        with make_session() as session, session.begin():
            claim = _claim(session, kind, clock(), lease, reminders, mailer, definitions)
        if claim is None:
            return
        if claim.email is None:
            report.refused += 1
            continue
        try:
            mailer.send(claim.email)
        except smtplib.SMTPRecipientsRefused as error:
            _record(make_session, claim, clock(), failure=_refused(error))
            report.refused += 1
            continue
        except smtplib.SMTPResponseException as error:
            _record(make_session, claim, clock(), failure=_refused(error))
            if isinstance(error, smtplib.SMTPSenderRefused) or error.smtp_code == 421:
                raise  # the server refuses us, not this email: every email waits
            report.refused += 1
            continue
        except OSError as error:
            _record(make_session, claim, clock(), failure=_reason(error))
            raise
        _record(make_session, claim, clock())
        report.sent += 1


@dataclass(frozen=True)
class _Claim:
    invitation_id: int
    attempts: int  # this one included
    status: str
    reminders_sent: int
    reminder: bool
    email: Email | None  # None: it may not be sent, and was recorded as refused


def _due(kind: EmailKind, now: datetime, reminders: ReminderRule | None) -> ColumnElement[bool]:
    if kind == "invitation":
        return email_due(now)
    assert reminders is not None
    due = reminder_due(now, after_days=reminders.after_days, max_reminders=reminders.max_reminders)
    if reminders.survey_id is not None:
        return and_(due, Invitation.survey_id == reminders.survey_id)
    return due


def _count_due(
    session: Session, kind: EmailKind, now: datetime, reminders: ReminderRule | None
) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Invitation).where(_due(kind, now, reminders))
        )
        or 0
    )


def _claim(
    session: Session,
    kind: EmailKind,
    now: datetime,
    lease: timedelta,
    reminders: ReminderRule | None,
    mailer: Mailer,
    definitions: dict[tuple[int, int], SurveyDefinition],
) -> _Claim | None:
    """Claim the oldest due email and render it; None when nothing is left to claim."""
    due = _due(kind, now, reminders)
    while True:
        # The claim is the transaction's first statement, a write: SQLite then waits for the
        # write lock instead of failing a read that turned into a write. On PostgreSQL, rows
        # another worker is claiming are skipped, and the due condition is checked again on
        # the row itself, so two workers never claim one email.
        oldest = (
            select(Invitation.id)
            .where(due)
            .order_by(Invitation.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        row = session.execute(
            update(Invitation)
            .where(Invitation.id == oldest, due)
            .values(send_attempts=Invitation.send_attempts + 1, next_send_at=now + lease)
            .returning(
                Invitation.id,
                Invitation.send_attempts,
                Invitation.status,
                Invitation.reminders_sent,
            )
            .execution_options(synchronize_session=False)
        ).first()
        if row is not None:
            break
        left = select(Invitation.id).where(due).limit(1).with_for_update(skip_locked=True)
        if session.scalar(left) is None:
            return None  # nothing due that another worker is not already sending
    invitation = session.get_one(Invitation, row.id)
    stakeholder = session.get_one(Stakeholder, invitation.stakeholder_id)
    survey = session.get_one(Survey, invitation.survey_id)
    claim = _Claim(
        row.id, row.send_attempts, row.status, row.reminders_sent, kind == "reminder", None
    )
    holds = holds_for(session, stakeholders=[stakeholder], channel="email", now=now)
    refusal = refusal_reason(stakeholder, holds.get(stakeholder.id, []))
    if refusal:
        record_failure(invitation, error=refusal, now=now, counted=True)
        return claim
    key = (survey.id, survey.version)
    if key not in definitions:
        definitions[key] = current_definition(session, survey=survey)
    email = invitation_email(
        definitions[key],
        invitation,
        stakeholder,
        mailer.settings.public_url,
        claim.reminder,
        mailer.sender_domain,
    )
    return replace(claim, email=email)


def _record(
    make_session: sessionmaker[Session],
    claim: _Claim,
    now: datetime,
    *,
    failure: str | None = None,
) -> None:
    # One UPDATE from what the claim returned: a write first, as in the claim.
    if failure is None:
        changes = sent_changes(
            status=claim.status,
            reminders_sent=claim.reminders_sent,
            now=now,
            reminder=claim.reminder,
        )
    else:
        changes = failure_changes(failed_attempts=claim.attempts, error=failure, now=now)
    with make_session() as session, session.begin():
        session.execute(
            update(Invitation)
            .where(Invitation.id == claim.invitation_id)
            .values(changes)
            .execution_options(synchronize_session=False)
        )


def _refused(error: smtplib.SMTPException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = "; ".join(
            f"{code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
            for code, message in error.recipients.values()
        )
        return f"the mail server refused the address: {answers}"
    if isinstance(error, smtplib.SMTPResponseException):
        message = error.smtp_error
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return f"the mail server refused the email: {error.smtp_code} {text}"
    return f"{type(error).__name__}: {error}"


def _back_off_due(
    session: Session, kind: EmailKind, now: datetime, reminders: ReminderRule | None, error: str
) -> tuple[int, timedelta | None]:
    """Count a failed attempt for every due email and set its next one: (how many, the
    shortest wait)."""
    # One UPDATE (a write first, see _claim), each row's delay chosen by its attempts so far.
    delays = {attempts: retry_delay(attempts + 1) for attempts in range(8)}
    next_send_at = case(
        *((Invitation.send_attempts == n, literal(now + d, DateTime)) for n, d in delays.items()),
        else_=literal(now + retry_delay(9), DateTime),
    )
    result = session.execute(
        update(Invitation)
        .where(_due(kind, now, reminders))
        .values(
            send_attempts=Invitation.send_attempts + 1,
            next_send_at=next_send_at,
            send_error=error[:500],
        )
        .execution_options(synchronize_session=False)
    )
    waiting = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if not waiting:
        return 0, None
    fewest = session.scalar(
        select(func.min(Invitation.send_attempts)).where(
            Invitation.send_error == error[:500], Invitation.next_send_at > now
        )
    )
    return waiting, retry_delay(fewest or 1)


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _minutes(delay: timedelta) -> str:
    minutes = max(1, round(delay.total_seconds() / 60))
    return f"{minutes} min"
