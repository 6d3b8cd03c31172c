"""Who may be asked now: survey consent per channel, no standing objection (GDPR Art. 21, see
``cpxm.access.purposes``), and contact-fatigue rules over every channel.

Consent: the latest survey decision for the channel (or for every channel) is in force; no
decision means no consent, and a withdrawal counts from the moment it is recorded. Fatigue rules
(``fatigue_rules``) count every contact in ``interactions``, whatever the department or channel,
plus survey invitations and responses, so a survey never lands on top of a busy week.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cpxm.access.purposes import OBJECTION_RULE, objecting
from cpxm.db import chunked, one_of
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Consent, Stakeholder
from cpxm.surveys.models import FatigueRule, Invitation, Response

CONSENT_RULE = "survey_consent"
CONTACT_DETAILS_RULE = "contact_details"
_CHUNK = 2000


@dataclass(frozen=True)
class Hold:
    """Why a stakeholder is not invited now: the rule's code and a sentence a person can read."""

    rule: str
    reason: str


def active_rules(session: Session) -> list[FatigueRule]:
    return list(
        session.scalars(select(FatigueRule).where(FatigueRule.active).order_by(FatigueRule.id))
    )


def holds_for(
    session: Session,
    *,
    stakeholders: list[Stakeholder],
    channel: str,
    now: datetime,
    following_up: Collection[int] = (),
) -> dict[int, list[Hold]]:
    """Every reason each stakeholder may not be invited on ``channel`` now (empty: may be).

    ``following_up`` names responses the invitation follows up (a service-recovery check after
    the case a response opened): the survey interval does not count those responses or their
    invitations, since the follow-up belongs to the same conversation. Every other rule applies.
    """
    holds: dict[int, list[Hold]] = defaultdict(list)
    rules = active_rules(session)
    for batch in chunked(stakeholders, _CHUNK):
        ids = [s.id for s in batch]
        consented = _consented(session, ids, channel)
        objectors = objecting(session, ids)
        for stakeholder in batch:
            if stakeholder.id not in consented:
                holds[stakeholder.id].append(
                    Hold(CONSENT_RULE, f"no survey consent in force for {channel}")
                )
            if stakeholder.id in objectors:
                since = objectors[stakeholder.id].date().isoformat()
                holds[stakeholder.id].append(
                    Hold(OBJECTION_RULE, f"objects to processing (GDPR Art. 21) since {since}")
                )
            if channel == "email" and not stakeholder.email:
                holds[stakeholder.id].append(Hold(CONTACT_DETAILS_RULE, "no email address"))
            if channel == "sms" and not stakeholder.phone:
                holds[stakeholder.id].append(Hold(CONTACT_DETAILS_RULE, "no phone number"))
        for rule in rules:
            for stakeholder_id, reason in _apply(session, rule, batch, now, following_up).items():
                holds[stakeholder_id].append(Hold(rule.code, reason))
    return dict(holds)


def _consented(session: Session, ids: list[int], channel: str) -> set[int]:
    """Stakeholders whose latest survey decision for ``channel`` (or all channels) is a grant."""
    rows = session.execute(
        select(Consent.stakeholder_id, Consent.status, Consent.recorded_at, Consent.id)
        .where(
            one_of(session, Consent.stakeholder_id, ids),
            Consent.purpose == "survey",
            or_(Consent.channel_code == channel, Consent.channel_code.is_(None)),
        )
        .order_by(Consent.stakeholder_id, Consent.recorded_at, Consent.id)
    )
    latest: dict[int, str] = {}
    for stakeholder_id, status, _recorded_at, _id in rows:
        latest[stakeholder_id] = status  # ordered by time: the last one wins
    return {stakeholder_id for stakeholder_id, status in latest.items() if status == "granted"}


def _apply(
    session: Session,
    rule: FatigueRule,
    batch: list[Stakeholder],
    now: datetime,
    following_up: Collection[int] = (),
) -> dict[int, str]:
    parameters: dict[str, Any] = rule.parameters or {}
    ids = [s.id for s in batch]
    if rule.kind == "survey_interval":
        days = int(parameters.get("days", 90))
        since = now - timedelta(days=days)
        invited_query = select(Invitation.stakeholder_id, func.max(Invitation.sent_at)).where(
            one_of(session, Invitation.stakeholder_id, ids), Invitation.sent_at >= since
        )
        answered_query = select(Response.stakeholder_id, func.max(Response.started_at)).where(
            one_of(session, Response.stakeholder_id, ids), Response.started_at >= since
        )
        if following_up:
            followed = sorted(set(following_up))
            followed_invitations = select(Response.invitation_id).where(
                Response.id.in_(followed), Response.invitation_id.is_not(None)
            )
            invited_query = invited_query.where(Invitation.id.not_in(followed_invitations))
            answered_query = answered_query.where(Response.id.not_in(followed))
        invited = session.execute(invited_query.group_by(Invitation.stakeholder_id))
        answered = session.execute(answered_query.group_by(Response.stakeholder_id))
        last: dict[int, datetime] = {}
        for stakeholder_id, moment in [*invited, *answered]:
            if stakeholder_id is not None and moment is not None:
                last[stakeholder_id] = max(moment, last.get(stakeholder_id, moment))
        return {
            stakeholder_id: f"surveyed on {moment:%Y-%m-%d}, less than {days} days ago"
            for stakeholder_id, moment in last.items()
        }
    if rule.kind == "contact_pressure":
        days = int(parameters.get("days", 7))
        contacts = int(parameters.get("contacts", 3))
        rows = session.execute(
            select(
                Interaction.stakeholder_id,
                func.count(Interaction.id),
                func.count(func.distinct(Interaction.department_code)),
            )
            .where(
                one_of(session, Interaction.stakeholder_id, ids),
                Interaction.occurred_at >= now - timedelta(days=days),
                Interaction.occurred_at <= now,
            )
            .group_by(Interaction.stakeholder_id)
            .having(func.count(Interaction.id) >= contacts)
        )
        return {
            stakeholder_id: (
                f"{count} contacts from {departments} department(s) in the last {days} days "
                f"(rule: none after {contacts} or more)"
            )
            for stakeholder_id, count, departments in rows
        }
    if rule.kind == "quiet_period":
        if not _in_period(now, str(parameters["start"]), str(parameters["end"])):
            return {}
        countries = set(parameters.get("countries") or [])
        return {
            s.id: f"quiet period {parameters['start']} to {parameters['end']}"
            for s in batch
            if not countries or s.country_code in countries
        }
    return {}


def _in_period(now: datetime, start: str, end: str) -> bool:
    """Whether ``now`` falls in a yearly period given as MM-DD bounds (it may wrap the year)."""
    today = f"{now:%m-%d}"
    if start <= end:
        return start <= today <= end
    return today >= start or today <= end
