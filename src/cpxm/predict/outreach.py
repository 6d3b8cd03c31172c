"""Next best action: one coordinated outreach per person at risk, and what became of it.

For each of the highest-risk people in the latest scoring, one action:

- **who**: the one team the RACI matrix makes Responsible for that person's relationship
  (``detractor_followup`` in their country, type and first therapeutic interest), or Medical
  information's Responsible (``medical_inquiry``) when the top reason is an inquiry answered late
  or not at all: that conversation stays behind the medical/commercial firewall. Never several
  departments: the point is to stop the ping-pong, not add to it;
- **channel**: among the channels they asked for, the one whose past contacts ended best; with no
  stated preference, the channel of their own most recent inbound contact, else email;
- **about what**: an open case first, then an unanswered request, then their therapeutic interest
  and the top reason;
- **when**: not before ``HOLD_BACK_DAYS`` after our last contact, nor while a contact-fatigue rule
  that counts every department (``cpxm.surveys.fatigue``: contact pressure, quiet periods) holds
  them; objectors are never proposed (they are never scored).

Accepting an action opens a case of type ``proactive_outreach`` routed by the RACI matrix with
its SLA (``cpxm.cases``); its outcome is recorded on the action, and the next scoring shows the
effect on the person's risk.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.access import Principal, shield_analytics_rows
from cpxm.access.outreach import hidden_action_filter, may_see_action, require_decider
from cpxm.access.purposes import permitted
from cpxm.cases.models import Case
from cpxm.cases.service import open_case
from cpxm.errors import DomainError, NotFoundError
from cpxm.governance import service as governance
from cpxm.interactions.models import Interaction
from cpxm.predict.models import OutreachAction, PredictionScore
from cpxm.predict.service import MEDICAL_FEATURES, _latest_scoring
from cpxm.stakeholders.models import ChannelPreference, Stakeholder, TherapeuticInterest
from cpxm.surveys.fatigue import active_rules, holds_for
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Team

HOLD_BACK_DAYS = 14
HOLD_SEARCH_DAYS = 60  # look this far ahead for a day no contact rule holds
GOOD_OUTCOMES = ("resolved", "positive_feedback", "follow_up_agreed")
POOR_OUTCOMES = ("unresolved", "complaint_raised", "rescheduled_by_company")
OUTCOMES = ("reached_improved", "reached_no_change", "not_reached")
OPEN_STATUSES = ("proposed", "accepted")
# Fatigue rules that speak of contact in general; survey-only rules do not stop a conversation.
CONTACT_RULES = ("contact_pressure", "quiet_period")


@dataclass(frozen=True)
class Proposal:
    proposed: int
    skipped_open: int  # already have an open action
    held: int  # proposed, but a rule pushes the date


def propose_actions(
    session: Session, *, share: float = 0.10, now: datetime | None = None
) -> Proposal:
    """One action for each of the top ``share`` of the latest scoring who has none open."""
    if not 0 < share <= 1:
        raise DomainError("share must be above 0 and at most 1")
    latest = _latest_scoring(session)
    if latest is None:
        raise DomainError("no scores yet: run `cpxm predict fit` and `cpxm predict score` first")
    model, as_of = latest
    now = now or utc_now()
    total = session.scalar(
        select(func.count())
        .select_from(PredictionScore)
        .where(PredictionScore.model_id == model.id, PredictionScore.as_of == as_of)
    )
    count = max(1, round(share * int(total or 0)))
    scores = list(
        session.scalars(
            select(PredictionScore)
            .where(
                PredictionScore.model_id == model.id,
                PredictionScore.as_of == as_of,
                PredictionScore.rank <= count,
            )
            .order_by(PredictionScore.rank)
        )
    )
    ids = [score.stakeholder_id for score in scores]
    busy = set(
        session.scalars(
            select(OutreachAction.stakeholder_id).where(
                OutreachAction.stakeholder_id.in_(ids), OutreachAction.status.in_(OPEN_STATUSES)
            )
        )
    )
    allowed = permitted(session, ids, purpose="profiling")
    people = {
        person.id: person
        for person in session.scalars(select(Stakeholder).where(Stakeholder.id.in_(ids)))
    }
    context = _Context.load(session, ids, as_of)
    proposed = held = 0
    for score in scores:
        person = people.get(score.stakeholder_id)
        if person is None or person.id in busy or person.id not in allowed:
            continue
        reasons = score.reasons.get("reasons", [])
        top_feature = reasons[0]["feature"] if reasons else None
        medical = top_feature in MEDICAL_FEATURES
        team_id = _owner(session, person, context.interests.get(person.id), medical)
        channel = context.channel(person.id)
        not_before = max(
            now, context.last_contact.get(person.id, now) + timedelta(days=HOLD_BACK_DAYS)
        )
        hold = _fatigue_hold(session, person, channel, not_before)
        if hold is not None:
            held += 1
        session.add(
            OutreachAction(
                score_id=score.id,
                stakeholder_id=person.id,
                team_id=team_id,
                channel_code=channel,
                topic=context.topic(person.id, medical),
                not_before=hold[0] if hold else not_before,
                why="; ".join(reason["text"] for reason in reasons) or "high risk",
                medical=medical or any(r["feature"] in MEDICAL_FEATURES for r in reasons),
                status="proposed",
                held_reason=hold[1] if hold else None,
                proposed_at=now,
            )
        )
        proposed += 1
    session.flush()
    return Proposal(proposed, len(busy), held)


@dataclass
class _Context:
    interests: dict[int, str]
    preferences: dict[int, list[str]]
    outcome_by_channel: dict[int, Counter[str]]
    last_inbound_channel: dict[int, str]
    last_contact: dict[int, datetime]
    open_cases: dict[int, str]
    open_requests: set[int]

    @classmethod
    def load(cls, session: Session, ids: list[int], as_of: datetime) -> _Context:
        interests: dict[int, str] = {}
        for sid, area in session.execute(
            select(TherapeuticInterest.stakeholder_id, TherapeuticInterest.therapeutic_area_code)
            .where(TherapeuticInterest.stakeholder_id.in_(ids))
            .order_by(TherapeuticInterest.stakeholder_id, TherapeuticInterest.therapeutic_area_code)
        ):
            interests.setdefault(sid, area)
        preferences: dict[int, list[str]] = {}
        for sid, channel in session.execute(
            select(ChannelPreference.stakeholder_id, ChannelPreference.channel_code)
            .where(ChannelPreference.stakeholder_id.in_(ids))
            .order_by(ChannelPreference.stakeholder_id, ChannelPreference.rank)
        ):
            preferences.setdefault(sid, []).append(channel)
        outcome_by_channel: dict[int, Counter[str]] = {}
        last_inbound: dict[int, str] = {}
        last_contact: dict[int, datetime] = {}
        open_requests: set[int] = set()
        rows = session.execute(
            select(
                Interaction.stakeholder_id,
                Interaction.occurred_at,
                Interaction.channel_code,
                Interaction.direction,
                Interaction.outcome,
                Interaction.interaction_type,
            )
            .where(
                Interaction.stakeholder_id.in_(ids),
                Interaction.occurred_at >= as_of - timedelta(days=365),
                Interaction.occurred_at < as_of,
            )
            .order_by(Interaction.stakeholder_id, Interaction.occurred_at)
        )
        for sid, at, channel, direction, outcome, kind in rows:
            tally = outcome_by_channel.setdefault(sid, Counter())
            if outcome in GOOD_OUTCOMES:
                tally[channel] += 1
            elif outcome in POOR_OUTCOMES:
                tally[channel] -= 1
            if direction == "inbound":
                last_inbound[sid] = channel
            if direction == "outbound":
                last_contact[sid] = at
            if kind == "medical_inquiry":
                open_requests.add(sid)
            elif kind == "medical_inquiry_response":
                open_requests.discard(sid)
        open_cases: dict[int, str] = {}
        for case_sid, case_id, title in session.execute(
            select(Case.stakeholder_id, Case.id, Case.title)
            .where(Case.stakeholder_id.in_(ids), Case.status != "closed")
            .order_by(Case.opened_at)
        ):
            if case_sid is not None:
                open_cases.setdefault(case_sid, f"case {case_id} ({title})")
        return cls(
            interests,
            preferences,
            outcome_by_channel,
            last_inbound,
            last_contact,
            open_cases,
            open_requests,
        )

    def channel(self, sid: int) -> str:
        asked = self.preferences.get(sid, [])
        if asked:
            tally = self.outcome_by_channel.get(sid, Counter())
            # Best past outcomes first; their own order of preference breaks ties.
            return max(asked, key=lambda channel: (tally[channel], -asked.index(channel)))
        return self.last_inbound_channel.get(sid, "email")

    def topic(self, sid: int, medical: bool) -> str:
        if sid in self.open_cases:
            return f"follow up the open {self.open_cases[sid]}"
        if medical or sid in self.open_requests:
            return "make sure their medical inquiry is answered, and ask how it went"
        area = self.interests.get(sid)
        if area:
            return f"check in on their experience in {area.replace('_', ' ')}"
        return "check in on their experience with us"


def _owner(session: Session, person: Stakeholder, area: str | None, medical: bool) -> int | None:
    """The Responsible team; None when the matrix names a person or nobody (the case then
    goes to that person, or to the CX leads as unrouted, when accepted)."""
    raci = governance.resolve(
        session,
        activity="medical_inquiry" if medical else "detractor_followup",
        country=person.country_code,
        therapeutic_area=area,
        stakeholder_type=person.type,
    )
    return raci.responsible[0].team_id if raci.responsible else None


def _fatigue_hold(
    session: Session, person: Stakeholder, channel: str, moment: datetime
) -> tuple[datetime, str] | None:
    """When a contact rule holds the person at ``moment``: the first day it no longer does."""
    codes = {rule.code for rule in active_rules(session) if rule.kind in CONTACT_RULES}
    if not codes:
        return None
    first: list[str] = []
    for step in range(HOLD_SEARCH_DAYS):
        day = moment + timedelta(days=step)
        holds = holds_for(session, stakeholders=[person], channel=channel, now=day)
        blocking = [hold.reason for hold in holds.get(person.id, []) if hold.rule in codes]
        if not blocking:
            return (day, "; ".join(first)) if step else None
        first = first or blocking
    return moment + timedelta(days=HOLD_SEARCH_DAYS), "; ".join(first)


def get_action(session: Session, *, action_id: int) -> OutreachAction:
    action = session.get(OutreachAction, action_id)
    if action is None:
        raise NotFoundError("outreach action", action_id)
    return action


def accept_action(
    session: Session,
    *,
    action: OutreachAction,
    actor_user_id: int | None,
    now: datetime | None = None,
) -> OutreachAction:
    """The team takes it on: a ``proactive_outreach`` case, routed by the RACI matrix, with SLA."""
    if action.status != "proposed":
        raise DomainError(f"action {action.id} is {action.status}; only a proposed one is accepted")
    now = now or utc_now()
    person = session.get(Stakeholder, action.stakeholder_id)
    assert person is not None  # a foreign key
    opened = open_case(
        session,
        # A reason from an inquiry stays with medical information, behind the firewall.
        case_type="medical_inquiry" if action.medical else "proactive_outreach",
        title=f"Proactive outreach to {person.display_name}: {action.topic}"[:300],
        description=(
            f"At risk of turning detractor or disengaging. Why: {action.why}. "
            f"Channel: {action.channel_code or 'any'}; not before {action.not_before:%Y-%m-%d}."
        ),
        source_key=f"outreach:{action.id}",
        stakeholder_id=person.id,
        actor_user_id=actor_user_id,
        now=now,
    )
    action.case_id = opened.case.id
    action.status = "accepted"
    action.decided_at = now
    action.decided_by = actor_user_id
    session.flush()
    return action


def dismiss_action(
    session: Session,
    *,
    action: OutreachAction,
    actor_user_id: int | None,
    now: datetime | None = None,
) -> OutreachAction:
    if action.status != "proposed":
        raise DomainError(
            f"action {action.id} is {action.status}; only a proposed one is dismissed"
        )
    action.status = "dismissed"
    action.decided_at = now or utc_now()
    action.decided_by = actor_user_id
    session.flush()
    return action


def record_outcome(
    session: Session, *, action: OutreachAction, outcome: str, now: datetime | None = None
) -> OutreachAction:
    """What came of an accepted action; the next scoring shows whether the risk moved."""
    if outcome not in OUTCOMES:
        raise DomainError(f"unknown outcome '{outcome}'; choose one of {', '.join(OUTCOMES)}")
    if action.status != "accepted":
        raise DomainError(
            f"action {action.id} is {action.status}; record outcomes of accepted ones"
        )
    action.outcome = outcome
    action.status = "done"
    session.flush()
    return action


ACTION_SORTS: tuple[tuple[str, str], ...] = (
    ("risk", "Highest risk first"),
    ("newest", "Newest proposal first"),
    ("due", "Earliest date first"),
    ("name", "Name"),
)
ACTION_STATUSES = ("proposed", "accepted", "dismissed", "done")


@dataclass(frozen=True)
class ActionRow:
    id: int
    stakeholder_id: int | None
    stakeholder: str
    stakeholder_type: str
    team_id: int | None
    team: str | None
    channel: str | None
    topic: str
    why: str
    not_before: datetime
    status: str
    held_reason: str | None
    case_id: int | None
    outcome: str | None
    medical: bool
    risk: float
    proposed_at: datetime


@dataclass(frozen=True)
class ActionFilter:
    status: str | None = None
    q: str | None = None  # part of the person's name
    sort: str = "risk"


def list_actions(
    session: Session,
    *,
    action_filter: ActionFilter | None = None,
    hidden_types: tuple[str, ...] = (),
    medical: bool = True,
    action_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[ActionRow], int]:
    """One page of actions and how many match, unshielded: the operator's view (the CLI).
    Readers go through :func:`actions_for_viewer`."""
    chosen = action_filter or ActionFilter()
    if chosen.status is not None and chosen.status not in ACTION_STATUSES:
        raise DomainError(
            f"status is '{chosen.status}', expected one of {', '.join(ACTION_STATUSES)}"
        )
    sorts = dict(ACTION_SORTS)
    if chosen.sort not in sorts:
        raise DomainError(f"sort is '{chosen.sort}', expected one of {', '.join(sorts)}")
    query = (
        select(
            OutreachAction,
            Stakeholder.display_name,
            Stakeholder.type,
            Team.name,
            PredictionScore.risk,
        )
        .join(Stakeholder, Stakeholder.id == OutreachAction.stakeholder_id)
        .join(PredictionScore, PredictionScore.id == OutreachAction.score_id)
        .outerjoin(Team, Team.id == OutreachAction.team_id)
    )
    if hidden_types:
        query = query.where(Stakeholder.type.not_in(hidden_types))
    if not medical:
        query = query.where(OutreachAction.medical.is_(False))
    if chosen.status is not None:
        query = query.where(OutreachAction.status == chosen.status)
    if chosen.q:
        query = query.where(Stakeholder.display_name.icontains(chosen.q, autoescape=True))
    if action_id is not None:
        query = query.where(OutreachAction.id == action_id)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    orders: dict[str, tuple[Any, Any]] = {
        "risk": (PredictionScore.risk.desc(), OutreachAction.id),
        "newest": (OutreachAction.proposed_at.desc(), OutreachAction.id.desc()),
        "due": (OutreachAction.not_before, OutreachAction.id),
        "name": (Stakeholder.display_name, OutreachAction.id),
    }
    order = orders[chosen.sort]
    rows = [
        ActionRow(
            action.id,
            action.stakeholder_id,
            name,
            kind,
            action.team_id,
            team,
            action.channel_code,
            action.topic,
            action.why,
            action.not_before,
            action.status,
            action.held_reason,
            action.case_id,
            action.outcome,
            action.medical,
            round(float(risk), 4),
            action.proposed_at,
        )
        for action, name, kind, team, risk in session.execute(
            query.order_by(*order).limit(limit).offset(offset)
        )
    ]
    return rows, total


def actions_for_viewer(
    session: Session,
    principal: Principal,
    *,
    action_filter: ActionFilter | None = None,
    action_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[ActionRow], int]:
    """Actions ``principal`` may see (``cpxm.access.outreach``: not about people of types hidden
    from the role, not drawn from medical inquiries unless the role sees medical content), one
    page of them and how many there are; reads of patients shown are audited."""
    hidden, medical = hidden_action_filter(principal)
    rows, total = list_actions(
        session,
        action_filter=action_filter,
        hidden_types=hidden,
        medical=medical,
        action_id=action_id,
        limit=limit,
        offset=offset,
    )
    shown = shield_analytics_rows(
        session, principal, rows, comment_field=None, via="prediction outreach actions"
    )
    return shown, total


def check_may_work(session: Session, principal: Principal, action: OutreachAction) -> None:
    """Refuse an action the role may not see as not found (like any record it may not see), and
    one it may see but not decide with 403 (``cpxm.access.outreach``)."""
    person = session.get(Stakeholder, action.stakeholder_id)
    if person is None or not may_see_action(
        principal, person_type=person.type, medical=action.medical
    ):
        raise NotFoundError("outreach action", action.id)
    require_decider(
        session, principal, action_id=action.id, team_id=action.team_id, case_id=action.case_id
    )
