"""Survey jobs: send invitation emails after the invitations are committed; every hour, invite
after triggering contacts, send reminders and expire old invitations.
"""

from __future__ import annotations

from datetime import datetime

from huey import crontab
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.jobs import huey, job_session
from cpxm.surveys.distribution import (
    deliver_invitations,
    expire_invitations,
    invite_after_contacts,
    pending_invitation_ids,
    reminder_due_ids,
)
from cpxm.surveys.mail import smtp_mailer
from cpxm.surveys.models import Survey
from cpxm.timeutil import utc_now

REMINDER_AFTER_DAYS = 7
MAX_REMINDERS = 1


@huey.task(retries=3, retry_delay=300)
def send_invitation_emails(invitation_ids: list[int]) -> None:
    """Email invitations created (and committed) by a send; failures are kept on the invitation."""
    with job_session() as session, smtp_mailer() as mailer:
        deliver_invitations(session, invitation_ids=invitation_ids, mailer=mailer, now=utc_now())


@huey.periodic_task(crontab(minute="7"))
def hourly_distribution() -> None:
    """Triggered invitations, then emails for everything pending, reminders and expiry."""
    with job_session() as session:
        run_triggers(session, now=utc_now())
    with job_session() as session:
        expire_invitations(session, now=utc_now())
        pending = pending_invitation_ids(session)
        due = reminder_due_ids(
            session, now=utc_now(), after_days=REMINDER_AFTER_DAYS, max_reminders=MAX_REMINDERS
        )
        if pending or due:
            with smtp_mailer() as mailer:
                deliver_invitations(session, invitation_ids=pending, mailer=mailer, now=utc_now())
                deliver_invitations(
                    session, invitation_ids=due, mailer=mailer, now=utc_now(), reminder=True
                )


def run_triggers(session: Session, *, now: datetime) -> int:
    """Run every active survey's trigger; the number of invitations created."""
    created = 0
    for survey in session.scalars(select(Survey).where(Survey.status == "active")):
        invitations, _held = invite_after_contacts(session, survey=survey, now=now)
        created += len(invitations)
    return created
