"""Safety jobs: analyse feedback on arrival, sweep anything missed, escalate late cases.

Whoever creates feedback items enqueues ``screen_feedback(ids)`` after committing them (the
feedback API does); the minute-by-minute sweep analyses whatever is still pending, so items
written by bulk loaders or by a process that could not enqueue are screened within a minute.
"""

from __future__ import annotations

from huey import crontab

from cpxm.jobs import huey, job_session
from cpxm.safety.screening import screen_by_ids, screen_pending
from cpxm.safety.service import escalate_overdue

SWEEP_BATCH = 500


@huey.task(retries=2, retry_delay=60)
def screen_feedback(feedback_ids: list[int]) -> None:
    """Analyse these feedback items (if still pending) and open their safety cases."""
    with job_session() as session:
        screen_by_ids(session, feedback_ids=feedback_ids)


@huey.periodic_task(crontab(minute="*"))
def sweep_pending_feedback() -> None:
    """Screen one batch of feedback still pending; the next minute takes the next batch."""
    with job_session() as session:
        screen_pending(session, limit=SWEEP_BATCH)


@huey.periodic_task(crontab(minute="*/15"))
def escalate_safety_cases() -> None:
    """Raise the escalation of open cases past their one-business-day clock."""
    with job_session() as session:
        escalate_overdue(session)
