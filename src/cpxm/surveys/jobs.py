"""Survey jobs: every minute, send the invitation emails the store says are due; every hour,
invite after triggering contacts, send reminders and expire old invitations.

A send (``cpxm survey send``, a re-survey) commits its invitations and then nudges a worker to
email them now; if the nudge is lost (queue down, worker killed), the minute's run sends them.
Delivery, back-off and the guarantee given are in ``cpxm.surveys.outbox``.
"""

from __future__ import annotations

from datetime import datetime

from huey import crontab
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.db import session_factory
from cpxm.jobs import huey, job_engine, job_session, periodic, recover_on_start
from cpxm.surveys.distribution import (
    expire_invitations,
    invite_after_contacts,
    send_scheduled_waves,
)
from cpxm.surveys.models import Survey
from cpxm.surveys.outbox import ReminderRule, send_due_emails
from cpxm.timeutil import utc_now

REMINDERS = ReminderRule(after_days=7, max_reminders=1)


@recover_on_start
@huey.task()
def send_due_invitation_emails() -> None:
    """Send every invitation email that is due: enqueued after a send commits, and by each
    worker as it starts."""
    send_due_emails(session_factory(job_engine()))


@periodic(crontab(minute="*"))
def send_invitation_emails_every_minute() -> None:
    """What no nudge reached, and what waits for a retry: due emails, every minute."""
    send_due_emails(session_factory(job_engine()))


@huey.task()
def send_survey_reminders(survey_id: int, after_days: int, max_reminders: int) -> None:
    """Remind one survey's invitees now (asked for on its page): those emailed at least
    ``after_days`` ago who have not opened it, with fewer than ``max_reminders`` reminders."""
    send_due_emails(
        session_factory(job_engine()),
        reminders=ReminderRule(after_days, max_reminders, survey_id=survey_id),
    )


@periodic(crontab(minute="7"))
def hourly_distribution() -> None:
    """Triggered invitations, scheduled waves, expiry, then every due email and reminder."""
    with job_session() as session:
        run_triggers(session, now=utc_now())
    with job_session() as session:
        send_scheduled_waves(session, now=utc_now())
    with job_session() as session:
        expire_invitations(session, now=utc_now())
    send_due_emails(session_factory(job_engine()), reminders=REMINDERS)


def run_triggers(session: Session, *, now: datetime) -> int:
    """Run every active survey's trigger; the number of invitations created."""
    created = 0
    for survey in session.scalars(select(Survey).where(Survey.status == "active")):
        invitations, _held = invite_after_contacts(session, survey=survey, now=now)
        created += len(invitations)
    return created
