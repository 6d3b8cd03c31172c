"""Analytics housekeeping: prune PostgreSQL's log of changing statements, and refresh the
summaries of what respondents met before answering (:mod:`cpxm.analytics.touch_summaries`)
and of the coordination and EX-CX pages (:mod:`cpxm.analytics.kept`) when the facts changed.

The report caches compare the log's size and end (``cpxm.analytics.service.data_fingerprint``);
what matters is that it changes with every commit that changed a report's tables, not what it
holds, so an hour of it is kept and the rest deleted (a deletion changes the size too, which
costs each cache one recomputation an hour).
"""

from __future__ import annotations

from datetime import timedelta

from huey import crontab
from sqlalchemy import delete
from sqlalchemy.orm import Session

from cpxm.analytics.kept import kept_summaries_current, refresh_kept_summaries
from cpxm.analytics.models import AnalyticsChange
from cpxm.analytics.touch_summaries import refresh_if_stale
from cpxm.jobs import job_session, periodic
from cpxm.timeutil import utc_now

KEEP_CHANGES = timedelta(hours=1)


def prune_change_log(session: Session) -> int:
    """Delete log rows older than ``KEEP_CHANGES``; the number deleted."""
    result = session.execute(
        delete(AnalyticsChange).where(AnalyticsChange.changed_at < utc_now() - KEEP_CHANGES)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@periodic(crontab(minute="41"))
def prune_analytics_changes() -> None:
    with job_session() as session:
        prune_change_log(session)


@periodic(crontab(minute="*/10"))
def refresh_touch_summaries_when_stale() -> None:
    """Keep the journeys and drivers pages' summaries within ten minutes of the facts (after
    imports, the demo, live answers): a cheap fingerprint comparison when nothing moved."""
    with job_session() as session:
        refresh_if_stale(session)


@periodic(crontab(minute="5-59/10"))  # between the touch summaries' refreshes
def refresh_analytics_summaries() -> None:
    """Rebuild the kept summaries when the facts changed since they were built (imports,
    edits, the change log's pruning): pages compute from the facts meanwhile."""
    with job_session() as session:
        if not kept_summaries_current(session):
            refresh_kept_summaries(session)
