"""The stamps of the kept summaries: which facts each summary was built from.

Every kept summary (the touch summaries, coordination, EX-CX) is stamped the same way, so the
rule "a page reads a summary only while the store's fingerprint is the one it was built from"
is written once: the summary's writer calls :func:`keep_stamp` when it has built from facts
that did not move, and readers compare :func:`stamp_of` with what a build now would describe.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.analytics.models import SummaryStamp
from cpxm.timeutil import utc_now


def stamp_of(session: Session, name: str) -> str | None:
    """What summary ``name`` was built from, or ``None`` when it is not kept."""
    return session.scalar(select(SummaryStamp.built_from).where(SummaryStamp.name == name))


def keep_stamp(session: Session, name: str, *, built_from: str, started: float) -> None:
    """Mark summary ``name`` as describing ``built_from``; ``started`` is the build's
    ``time.perf_counter()`` at its start, kept as how long the build took."""
    stamp = session.get(SummaryStamp, name)
    if stamp is None:
        stamp = SummaryStamp(name=name)
        session.add(stamp)
    stamp.built_from = built_from
    stamp.built_at = utc_now().replace(tzinfo=None)
    stamp.seconds = time.perf_counter() - started
    session.flush()
