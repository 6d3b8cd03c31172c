"""In-app notifications, and their emails sent after the transaction that created them commits.

Email goes out only where the operator configured SMTP (``CPXM_SMTP_HOST``; the same settings as
survey mail, see ``cpxm.surveys.mail``): the in-app notification is the record, the email a copy.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Iterable
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cpxm.governance import service as governance
from cpxm.governance.service import Party
from cpxm.surveys.mail import Email, MailServerUnreachable, smtp_mailer, smtp_settings
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Notification, User


def team_member_ids(session: Session, team_id: int) -> list[int]:
    return list(
        session.scalars(
            select(User.id).where(User.team_id == team_id, User.is_active.is_(True))
        ).all()
    )


def people_of(session: Session, parties: Iterable[Party]) -> list[int]:
    """The users a list of RACI parties stands for: each named user, each team's active members."""
    ids: list[int] = []
    for party in parties:
        if party.user_id is not None:
            ids.append(party.user_id)
        elif party.team_id is not None:
            ids.extend(team_member_ids(session, party.team_id))
    return ids


def active_users_with_roles(session: Session, roles: Iterable[str]) -> list[int]:
    return list(
        session.scalars(
            select(User.id).where(User.role.in_(tuple(roles)), User.is_active.is_(True))
        ).all()
    )


RaciLetter = Literal["responsible", "accountable", "consulted", "informed"]


def notify_raci(
    session: Session,
    *,
    activity: str,
    subject: str,
    body: str,
    link: str | None = None,
    letters: tuple[RaciLetter, ...] = ("accountable", "informed"),
    department: str | None = None,
    country: str | None = None,
    therapeutic_area: str | None = None,
    stakeholder_type: str | None = None,
    fallback_roles: tuple[str, ...] = ("cx_lead", "admin"),
) -> list[Notification]:
    """Tell the people the RACI matrix names for ``activity`` in a scope (by default the
    Accountable and the Informed): in-app now, by email through the mail job when SMTP is set.

    With nobody named there, the active users of ``fallback_roles`` are told instead, so an
    escalation never goes nowhere. Returns the notifications (flushed), one per person.
    """
    raci = governance.resolve(
        session,
        activity=activity,
        department=department,
        country=country,
        therapeutic_area=therapeutic_area,
        stakeholder_type=stakeholder_type,
    )
    user_ids = people_of(session, [party for letter in letters for party in getattr(raci, letter)])
    if not user_ids:
        user_ids = active_users_with_roles(session, fallback_roles)
    return notify(session, user_ids=user_ids, subject=subject, body=body, link=link)


def notify(
    session: Session,
    *,
    user_ids: Iterable[int],
    subject: str,
    body: str,
    link: str | None = None,
) -> list[Notification]:
    """One notification per distinct user; returns them (flushed)."""
    now = utc_now()
    notifications = [
        Notification(user_id=user_id, created_at=now, subject=subject[:300], body=body, link=link)
        for user_id in sorted(set(user_ids))
    ]
    session.add_all(notifications)
    session.flush()
    return notifications


def list_notifications(
    session: Session, *, user_id: int, unread_only: bool, limit: int, offset: int
) -> tuple[list[Notification], int]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def mark_read(session: Session, *, user_id: int, notification_ids: list[int]) -> int:
    """Mark the user's own notifications read; others' ids are ignored."""
    result = session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.id.in_(notification_ids),
            Notification.read_at.is_(None),
        )
        .values(read_at=utc_now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def email_enabled() -> bool:
    return bool(os.environ.get("CPXM_SMTP_HOST", "").strip())


def send_pending_emails(session: Session, *, limit: int = 200) -> int:
    """Email notifications not yet emailed; a refused address is recorded on its row."""
    if not email_enabled():
        return 0
    pending = session.execute(
        select(Notification, User.email)
        .join(User, User.id == Notification.user_id)
        .where(Notification.emailed_at.is_(None), Notification.email_error.is_(None))
        .order_by(Notification.id)
        .limit(limit)
    ).all()
    if not pending:
        return 0
    settings = smtp_settings()
    sent = 0
    try:
        with smtp_mailer(settings) as mailer:
            for notification, address in pending:
                link = f"{settings.public_url}{notification.link or '/cases'}"
                try:
                    mailer.send(
                        Email(
                            to=address,
                            subject=f"[CPXM] {notification.subject}",
                            text=notification.body,
                            link=link,
                            greeting="Hello,",
                        )
                    )
                except smtplib.SMTPException as error:
                    notification.email_error = str(error)[:1000]
                    continue
                notification.emailed_at = utc_now()
                sent += 1
    except (OSError, smtplib.SMTPException) as error:
        # The server is unreachable: leave the rows pending for the next run.
        session.flush()
        raise MailServerUnreachable(
            f"cannot reach SMTP at {settings.host}:{settings.port}: {error}"
        ) from error
    session.flush()
    return sent
