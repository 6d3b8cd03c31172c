"""Safety jobs: screen feedback on arrival, sweep anything missed, escalate late cases.

**Screening on arrival.** The one feedback writer (:mod:`cpxm.feedback.writer`) notes every item
it writes; the screen-after-commit hook (:mod:`cpxm.safety.arrival`) enqueues
:func:`screen_feedback` for them once the transaction commits. The minute-by-minute sweep still
screens whatever is pending, so an item committed by a process without the hook is screened
within a minute.

**Nothing is lost to a fault.** An item stays ``pending`` until the transaction that stores its
analysis (and opens its safety cases) commits, and there is at most one case per item and kind
(a unique constraint): a worker killed mid-job leaves its items pending, and they are screened
once by the sweep, or at once by the next worker to start. A queue that cannot be reached when
feedback is committed costs one log line; the write stands and the sweep screens it.
"""

from __future__ import annotations

from huey import crontab

from cpxm.jobs import huey, job_engine, job_session, periodic, recover_on_start

SWEEP_BATCH = 500
# A starting worker screens all that is pending, committing this many items at a time, so a
# backlog (left by a killed worker, or a long queue outage) is worked off in steps that stay.
RECOVERY_BATCH = 100


@huey.task(retries=2, retry_delay=60)
def screen_feedback(feedback_ids: list[int]) -> None:
    """Analyse these feedback items (if still pending) and open their safety cases."""
    from cpxm.safety.screening import screen_by_ids

    with job_session() as session:
        screen_by_ids(session, feedback_ids=feedback_ids)


@periodic(crontab(minute="*"))
def sweep_pending_feedback() -> None:
    """Screen one batch of feedback still pending; the next minute takes the next batch."""
    from cpxm.safety.screening import screen_pending

    with job_session() as session:
        screen_pending(session, limit=SWEEP_BATCH)


@recover_on_start
@huey.task()
def screen_backlog() -> None:
    """Screen every pending item in committed batches: enqueued by each worker as it starts."""
    from cpxm.safety.screening import screen_all_pending

    screen_all_pending(job_engine(), batch_size=RECOVERY_BATCH)


@periodic(crontab(minute="*/15"))
def escalate_safety_cases() -> None:
    """Raise the escalation of open cases past their one-business-day clock (and notify)."""
    from cpxm.safety.service import escalate_overdue

    with job_session() as session:
        escalate_overdue(session)
