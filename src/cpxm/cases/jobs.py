"""Scheduled case work: scan for new sources, sweep SLAs, email notifications and re-surveys."""

from __future__ import annotations

from huey import crontab

from cpxm.cases import notifications, recovery, scan, service
from cpxm.jobs import huey, job_session
from cpxm.surveys.mail import smtp_mailer


@huey.periodic_task(crontab(minute="*/5"))
def scan_for_cases() -> None:
    with job_session() as session:
        scan.scan(session)


@huey.periodic_task(crontab(minute="*/15"))
def sweep_case_slas() -> None:
    with job_session() as session:
        service.sweep_slas(session)


@huey.periodic_task(crontab(minute="*"))
def email_notifications() -> None:
    with job_session() as session:
        notifications.send_pending_emails(session)
    if notifications.email_enabled():
        with job_session() as session, smtp_mailer() as mailer:
            recovery.send_recovery_invitations(session, mailer=mailer)
