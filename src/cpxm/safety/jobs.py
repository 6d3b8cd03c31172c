"""Safety jobs: analyse feedback on arrival, sweep anything missed, escalate late cases.

**Analysis on arrival, for every writer.** Whatever creates feedback items (the API, survey
submissions and edits, imports of feedback or survey responses, a script) does it through a
SQLAlchemy session; this module listens to every session, notes the feedback items left
``pending`` by a flush (or inserted in bulk for survey responses), and once the transaction
commits enqueues their analysis and safety screening as a job. The job runs where the worker
runs, on the configured store (``CPXM_DATABASE_URL``): a commit to any other store (a test's,
a benchmark's) is left to that store's own sweep. The minute-by-minute sweep still screens
whatever is pending, so an item written with no session at all is screened within a minute.

**Nothing is lost to a fault.** An item stays ``pending`` until the transaction that stores its
analysis (and opens its safety cases) commits, and there is at most one case per item and kind
(a unique constraint): a worker killed mid-job leaves its items pending, and they are screened
once by the sweep, or at once by the next worker to start. A queue that cannot be reached when
feedback is committed costs one log line; the write stands and the sweep screens it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from huey import crontab
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from cpxm.config import get_settings
from cpxm.feedback.models import FeedbackItem
from cpxm.jobs import enqueue_after_commit, huey, job_engine, job_session, recover_on_start
from cpxm.surveys.submitting import COMMENTS_WRITTEN

# Every process that may write feedback loads this module for its hook (every `cpxm` command
# does), so the screening itself (text analysis, the sentiment lexicon) loads only in the tasks.
SWEEP_BATCH = 500
# A starting worker screens all that is pending, committing this many items at a time, so a
# backlog (left by a killed worker, or a long queue outage) is worked off in steps that stay.
RECOVERY_BATCH = 100
# Keys in Session.info: what the current transaction left pending.
_ARRIVED_IDS = "cpxm.safety.arrived_ids"
_ARRIVED_RESPONSES = "cpxm.safety.arrived_responses"
_ARRIVED_UNKNOWN = "cpxm.safety.arrived_unknown"


@huey.task(retries=2, retry_delay=60)
def screen_feedback(feedback_ids: list[int]) -> None:
    """Analyse these feedback items (if still pending) and open their safety cases."""
    from cpxm.safety.screening import screen_by_ids

    with job_session() as session:
        screen_by_ids(session, feedback_ids=feedback_ids)


@huey.task(retries=2, retry_delay=60)
def screen_response_feedback(response_ids: list[int]) -> None:
    """Analyse the pending comments of these survey responses and open their safety cases."""
    from cpxm.safety.screening import screen_by_responses

    with job_session() as session:
        screen_by_responses(session, response_ids=response_ids)


@huey.task(retries=2, retry_delay=60)
def screen_pending_now() -> None:
    """One sweep now, for feedback written in bulk without ids we could see."""
    from cpxm.safety.screening import screen_pending

    with job_session() as session:
        screen_pending(session, limit=SWEEP_BATCH)


@huey.periodic_task(crontab(minute="*"))
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


@huey.periodic_task(crontab(minute="*/15"))
def escalate_safety_cases() -> None:
    """Raise the escalation of open cases past their one-business-day clock (and notify)."""
    from cpxm.safety.service import escalate_overdue

    with job_session() as session:
        escalate_overdue(session)


@event.listens_for(Session, "after_flush")
def _note_pending_items(session: Session, _flush_context: Any) -> None:
    ids = [
        item.id
        for item in (*session.new, *session.dirty)
        if isinstance(item, FeedbackItem) and item.analysis_status == "pending"
    ]
    if ids:
        session.info.setdefault(_ARRIVED_IDS, set()).update(ids)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_inserts(state: ORMExecuteState) -> None:
    table = getattr(state.statement, "table", None)
    if not state.is_insert or getattr(table, "name", None) != "feedback_items":
        return
    parameters = state.parameters
    rows: Sequence[Mapping[str, Any]] = (
        parameters if isinstance(parameters, Sequence) else [parameters or {}]
    )
    responses = {row.get("response_id") for row in rows}
    if None in responses:
        state.session.info[_ARRIVED_UNKNOWN] = True
    state.session.info.setdefault(_ARRIVED_RESPONSES, set()).update(
        response for response in responses if response is not None
    )


def _note_written_comments(session: Session, response_ids: list[int]) -> None:
    # Comments a survey submit wrote in one statement with its response, out of this module's
    # sight (see cpxm.surveys.submitting): screened like any other arrival.
    session.info.setdefault(_ARRIVED_RESPONSES, set()).update(response_ids)


COMMENTS_WRITTEN.append(_note_written_comments)


@event.listens_for(Session, "after_commit")
def _enqueue_arrivals(session: Session) -> None:
    ids = session.info.pop(_ARRIVED_IDS, None)
    responses = session.info.pop(_ARRIVED_RESPONSES, None)
    unknown = session.info.pop(_ARRIVED_UNKNOWN, False)
    if not (ids or responses or unknown):
        return
    bind = session.bind
    if bind is None:
        return  # a session bound per mapper: not one the product opens; the sweep covers it
    url = bind.engine.url.render_as_string(hide_password=False)
    if url != get_settings().database_url:
        return  # the worker serves another store; this one's sweep screens them
    # The data is committed whatever happens here: a queue that is down must not fail the
    # caller (a request would answer 500 for stored feedback); the sweep screens what it missed.
    if ids:
        enqueue_after_commit(screen_feedback, sorted(ids))
    if responses:
        enqueue_after_commit(screen_response_feedback, sorted(responses))
    if unknown:
        enqueue_after_commit(screen_pending_now)


@event.listens_for(Session, "after_rollback")
def _forget_arrivals(session: Session) -> None:
    for key in (_ARRIVED_IDS, _ARRIVED_RESPONSES, _ARRIVED_UNKNOWN):
        session.info.pop(key, None)
