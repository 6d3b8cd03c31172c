"""The safety net's screen-after-commit hook: feedback is screened the moment it is committed.

Every feedback item is written by :mod:`cpxm.feedback.writer`, which notes the ids it wrote on
the session. This hook, once installed, hands those ids to the screening job when the
transaction commits, and forgets them when it rolls back (nothing was stored). It is installed
explicitly by every process that writes feedback: the web app (:func:`cpxm.app.create_app`), the
worker, and every command (:func:`cpxm.cli_lazy.load_for_commands`). A process without it (a
script, a notebook) loses nothing: the minute-by-minute sweep screens whatever is pending.

The job runs where the worker runs, on the configured store (``CPXM_DATABASE_URL``): a commit to
any other store (a test's, a benchmark's) is left to that store's own sweep. The queue is
imported only when there is something to queue, so a command that writes no feedback never
loads it.
"""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.orm import Session

from cpxm.config import get_settings
from cpxm.feedback.writer import forget_arrived, take_arrived

logger = logging.getLogger(__name__)


def install() -> None:
    """Listen to every session's commits and rollbacks (idempotent)."""
    if not event.contains(Session, "after_commit", _enqueue_arrivals):
        event.listen(Session, "after_commit", _enqueue_arrivals)
    if not event.contains(Session, "after_rollback", _forget_arrivals):
        event.listen(Session, "after_rollback", _forget_arrivals)


def installed() -> bool:
    return event.contains(Session, "after_commit", _enqueue_arrivals)


def _enqueue_arrivals(session: Session) -> None:
    ids = take_arrived(session)
    if not ids:
        return
    bind = session.bind
    if bind is None:
        return  # a session bound per mapper: not one the product opens; the sweep covers it
    url = bind.engine.url.render_as_string(hide_password=False)
    if url != get_settings().database_url:
        return  # the worker serves another store; this one's sweep screens them
    from cpxm.jobs import enqueue_after_commit
    from cpxm.safety.jobs import screen_feedback

    # The data is committed whatever happens here: a queue that is down must not fail the
    # caller (a request would answer 500 for stored feedback); the sweep screens what it missed.
    enqueue_after_commit(screen_feedback, ids)


def _forget_arrivals(session: Session) -> None:
    forget_arrived(session)


__all__ = ["install", "installed"]
