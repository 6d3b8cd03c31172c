"""The one writer of the summaries the analytics pages read while they describe the facts.

``cpxm analytics rebuild``, the end of ``cpxm demo`` and the worker's job every ten minutes
(:mod:`cpxm.analytics.jobs`, when the store's data fingerprint moved) call
:func:`refresh_kept_summaries`. Each summary is stamped with the fingerprint it was built from
(:mod:`cpxm.analytics.coordination_summary`, :mod:`cpxm.analytics.ex_summary`); a page reads
it only while the store's fingerprint is the same, and computes from the facts otherwise.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from cpxm.analytics.coordination_summary import refresh_coordination_summary, summary_is_current
from cpxm.analytics.ex import customer_side_from_facts, wave_starts
from cpxm.analytics.ex_summary import (
    KEPT_ATTRIBUTION_DAYS,
    SUMMARY_NAME,
    built_from,
    confidential_surveys,
)
from cpxm.analytics.models import ExTeamContacts, ExTeamScores, SummaryStamp
from cpxm.analytics.query import analytics_engine
from cpxm.analytics.stamps import keep_stamp, stamp_of


def refresh_kept_summaries(session: Session) -> dict[str, int | None]:
    """Rebuild every kept summary in the caller's transaction: the rows each holds, ``None``
    for one not kept (the Spark engine, or facts that changed while it was built)."""
    return {
        "coordination": refresh_coordination_summary(session),
        "ex": refresh_ex_summary(session),
    }


def kept_summaries_current(session: Session) -> bool:
    """Whether every kept summary describes the store as it is now."""
    if not summary_is_current(session):
        return False
    stamp = stamp_of(session, SUMMARY_NAME)
    return stamp is not None and stamp == built_from(session, confidential_surveys(session))


def refresh_ex_summary(session: Session) -> int | None:
    """Rebuild the EX-CX page's summary from the facts: per confidential survey, wave and team,
    the customers served and their scores; the rows written, or ``None`` when not kept."""
    if analytics_engine() != "store":
        return None
    started = time.perf_counter()
    surveys = confidential_surveys(session)
    before = built_from(session, surveys)
    session.execute(delete(ExTeamContacts))
    session.execute(delete(ExTeamScores))
    session.execute(delete(SummaryStamp).where(SummaryStamp.name == SUMMARY_NAME))
    contact_rows: list[dict[str, object]] = []
    score_rows: list[dict[str, object]] = []
    for survey_id in surveys:
        waves = wave_starts(session, survey_id)
        labels = [label for label, _starts, _invited in waves]
        side = customer_side_from_facts(session, waves, labels, KEPT_ATTRIBUTION_DAYS)
        for wave in labels:
            contacts = side.contacts.get(wave, {})
            episodes = side.ping_pong.get(wave, {})
            for team in sorted(contacts.keys() | episodes.keys(), key=lambda t: (t is None, t)):
                served, customers = contacts.get(team, (0, 0))
                contact_rows.append(
                    {"survey_id": survey_id, "wave": wave, "team_id": team, "contacts": served,
                     "customers": customers, "ping_pong_episodes": episodes.get(team, 0)}
                )  # fmt: skip
        scored = [((wave, team, "nps"), m) for (wave, team), m in side.last_touch.items()]
        for (wave, team, measure), m in [*scored, *side.after_contact.items()]:
            score_rows.append(
                {"survey_id": survey_id, "wave": wave, "team_id": team, "measure": measure,
                 "n": m.n, "total": m.total, "total_squares": m.total_squares,
                 "promoters": m.promoters, "detractors": m.detractors}
            )  # fmt: skip
    if contact_rows:
        session.execute(insert(ExTeamContacts), contact_rows)
    if score_rows:
        session.execute(insert(ExTeamScores), score_rows)
    if built_from(session, surveys) != before:
        session.flush()
        return None
    keep_stamp(session, SUMMARY_NAME, built_from=before, started=started)
    return len(contact_rows) + len(score_rows)
