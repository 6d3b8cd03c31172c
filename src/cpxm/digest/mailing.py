"""Mailing the monthly digest to each audience's readers, through the survey invitations' SMTP
path (``cpxm.surveys.mail``), once per month, audience and reader.

Readers: leadership's digest goes to active admins and CX leads; a department's to the active
users of its teams; a therapeutic area's to the active users of teams of that area. Only roles
that may read aggregated figures (``cpxm.access.AGGREGATES``) receive one, and each reader gets
the digest as their own role may read it (names of people at risk only where it may).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import AGGREGATES, Principal
from cpxm.access.roles import Role
from cpxm.digest import render, service
from cpxm.digest.models import DigestDelivery
from cpxm.surveys.mail import SmtpSettings, smtp_mailer, smtp_settings
from cpxm.workspace.models import Team, User

logger = logging.getLogger(__name__)
LEADERSHIP_ROLES = (Role.ADMIN.value, Role.CX_LEAD.value)


@dataclass(frozen=True)
class Sent:
    audience: str
    email: str


def readers(session: Session, audience: service.Audience) -> list[User]:
    """The active users who receive ``audience``'s digest and whose role may read it."""
    query = select(User).where(User.is_active.is_(True)).order_by(User.id)
    if audience.kind == service.LEADERSHIP:
        query = query.where(User.role.in_(LEADERSHIP_ROLES))
    elif audience.kind == "department":
        query = query.join(Team, Team.id == User.team_id).where(
            Team.department_code == audience.code
        )
    else:
        query = query.join(Team, Team.id == User.team_id).where(
            Team.therapeutic_area_code == audience.code
        )
    return [user for user in session.scalars(query) if _may_read(user.role)]


def _may_read(role: str) -> bool:
    try:
        return AGGREGATES.allows(Role(role))
    except ValueError:
        return False


def send_digests(
    session: Session,
    *,
    month: service.Month,
    now: datetime,
    settings: SmtpSettings | None = None,
) -> list[Sent]:
    """Mail ``month``'s digest of every audience to each reader not yet sent it; each sent
    e-mail is recorded (flushed) as it goes, so a second run sends only what the first did not.
    A reader the server refuses is logged and left for the next run."""
    settings = settings or smtp_settings()
    sent: list[Sent] = []
    with smtp_mailer(settings) as mailer:
        for audience in service.audiences(session):
            done = set(
                session.scalars(
                    select(DigestDelivery.user_id).where(
                        DigestDelivery.month == month.key, DigestDelivery.audience == audience.key
                    )
                )
            )
            waiting = [user for user in readers(session, audience) if user.id not in done]
            # One digest per role: what a reader sees depends on their role only.
            made: dict[str, tuple[service.Digest, list[render.Chart]]] = {}
            for user in waiting:
                if user.role not in made:
                    principal = Principal(
                        user_id=user.id,
                        email=user.email,
                        display_name=user.display_name,
                        role=Role(user.role),
                        method="digest",
                    )
                    digest = service.build_digest(
                        session, month=month, audience=audience, principal=principal, now=now
                    )
                    made[user.role] = (digest, render.charts(digest))
                digest, chart_list = made[user.role]
                message = render.email(
                    digest,
                    to=user.email,
                    sender=settings.sender,
                    chart_list=chart_list,
                    message_id=f"<digest-{month.key}-{audience.key.replace(':', '-')}"
                    f"-{user.id}@{mailer.sender_domain}>",
                )
                try:
                    mailer.connection.send_message(message)
                except smtplib.SMTPRecipientsRefused:
                    logger.warning("digest %s %s: %s refused", month.key, audience.key, user.email)
                    continue
                session.add(
                    DigestDelivery(
                        month=month.key,
                        audience=audience.key,
                        user_id=user.id,
                        email=user.email,
                        sent_at=now,
                    )
                )
                session.flush()
                sent.append(Sent(audience.key, user.email))
    return sent


def month_before(now: datetime) -> service.Month:
    """The last complete month at ``now``: what the job on the 1st reports on."""
    return service.month_of(now.strftime("%Y-%m")).previous
