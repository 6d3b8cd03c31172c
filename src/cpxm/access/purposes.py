"""What a person's data may be used for: consent per purpose, and objections (GDPR Art. 21).

One place answers "may this person's data be used for PURPOSE?", so every use asks the same
question the same way:

- ``profiling`` (silent-disengagement and any other risk list about individuals): legitimate
  interest, so no consent is needed, but a person who objects (Art. 21(1)) is left out;
- ``survey``: the latest ``survey`` consent for the channel must be a grant (checked with the
  contact-fatigue rules in ``cpxm.surveys.fatigue``), and an objecting person is not asked;
- ``marketing``: the latest ``marketing`` consent must be a grant, and an objection to direct
  marketing is absolute (Art. 21(2)-(3));
- ``research``: the latest ``research`` consent must be a grant.

"Latest" is the most recent decision for the purpose (on any channel when no channel is
given); no decision means no consent.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.db import chunked, one_of
from cpxm.privacy.models import Objection
from cpxm.stakeholders.models import Consent

OBJECTION_RULE = "objection"
# Purposes that need the person's consent, by the consent purpose recorded for them.
CONSENT_NEEDED = {"survey": "survey", "marketing": "marketing", "research": "research"}
# Purposes an objection stops.
OBJECTION_STOPS = frozenset({"profiling", "survey", "marketing"})
PURPOSES = ("profiling", "survey", "marketing", "research")
_CHUNK = 2000


def objecting(session: Session, ids: Collection[int] | None = None) -> dict[int, datetime]:
    """People whose objection stands, with when they objected (all of them, or among ``ids``)."""
    query = select(Objection.stakeholder_id, Objection.objected_at).where(
        Objection.withdrawn_at.is_(None)
    )
    if ids is None:
        return {stakeholder_id: moment for stakeholder_id, moment in session.execute(query)}
    found: dict[int, datetime] = {}
    for batch in chunked(sorted(set(ids)), _CHUNK):
        rows = session.execute(query.where(one_of(session, Objection.stakeholder_id, batch)))
        found.update({stakeholder_id: moment for stakeholder_id, moment in rows})
    return found


def consented(
    session: Session, ids: Collection[int], *, purpose: str, channel: str | None = None
) -> set[int]:
    """Among ``ids``, those whose latest decision for the consent ``purpose`` is a grant."""
    latest: dict[int, str] = {}
    for batch in chunked(sorted(set(ids)), _CHUNK):
        query = (
            select(Consent.stakeholder_id, Consent.status)
            .where(one_of(session, Consent.stakeholder_id, batch), Consent.purpose == purpose)
            .order_by(Consent.stakeholder_id, Consent.recorded_at, Consent.id)
        )
        if channel is not None:
            query = query.where((Consent.channel_code == channel) | Consent.channel_code.is_(None))
        for stakeholder_id, status in session.execute(query):
            latest[stakeholder_id] = status  # in time order: the last one wins
    return {stakeholder_id for stakeholder_id, status in latest.items() if status == "granted"}


def permitted(
    session: Session, ids: Collection[int], *, purpose: str, channel: str | None = None
) -> set[int]:
    """Among ``ids``, the people whose data may be used for ``purpose`` now."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose '{purpose}'; one of {', '.join(PURPOSES)}")
    allowed = set(ids)
    if purpose in CONSENT_NEEDED:
        allowed &= consented(session, allowed, purpose=CONSENT_NEEDED[purpose], channel=channel)
    if purpose in OBJECTION_STOPS and allowed:
        allowed -= set(objecting(session, allowed))
    return allowed
