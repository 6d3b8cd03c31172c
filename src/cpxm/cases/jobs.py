"""Scheduled case work: scan for new sources, sweep SLAs, email notifications.

Re-survey invitations are survey invitations: the survey outbox emails them
(``cpxm.surveys.jobs``).
"""

from __future__ import annotations

import logging

from huey import crontab

from cpxm.cases import notifications, scan, service
from cpxm.jobs import job_session, periodic
from cpxm.surveys.mail import MailServerUnreachable

logger = logging.getLogger(__name__)


@periodic(crontab(minute="*/5"))
def scan_for_cases() -> None:
    with job_session() as session:
        scan.scan(session)


@periodic(crontab(minute="*/15"))
def sweep_case_slas() -> None:
    with job_session() as session:
        service.sweep_slas(session)


@periodic(crontab(minute="*"))
def email_notifications() -> None:
    """Email the notifications not yet emailed; they stay pending while the server is away."""
    try:
        with job_session() as session:
            notifications.send_pending_emails(session)
    except MailServerUnreachable as error:
        logger.warning("notification emails wait: %s", error)
