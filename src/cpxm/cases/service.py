"""The closed loop: open, route, work, escalate and close cases; the caller owns the transaction.

Every step is a ``CaseEvent`` on the case's trail (who, when, what); ORM changes made in a
request are also in the audit log (``cpxm.access.audit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, or_, select
from sqlalchemy import case as case_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cpxm.cases.models import Case, CaseEvent
from cpxm.cases.notifications import (
    active_users_with_roles,
    notify,
    people_of,
    team_member_ids,
)
from cpxm.cases.recovery import invite_to_recovery
from cpxm.cases.sla import (
    CASE_TYPES,
    PRIORITIES,
    add_business_hours,
    business_hours_between,
    sla_hours,
)
from cpxm.errors import DomainError, FieldError, NotFoundError, field_error
from cpxm.governance import service as governance
from cpxm.governance.service import Party
from cpxm.stakeholders.models import Stakeholder
from cpxm.stakeholders.service import golden_ids
from cpxm.textmatch import contains_text, record_number
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Country, Department, Team, TherapeuticArea, User

_Ts = TypeVarTuple("_Ts")

STATUSES = ("open", "in_progress", "closed")
RESOLUTION_CODES = (
    "resolved_explained",  # we explained; the person accepted
    "resolved_fixed",  # we fixed what went wrong
    "resolved_compensated",  # a gesture or replacement
    "referred_medical",  # handed to medical information
    "referred_pv",  # handed to pharmacovigilance
    "no_response",  # we tried and could not reach the person
    "duplicate",
    "not_actionable",
)
# Which RACI activity routes each case type.
ACTIVITY_OF_TYPE = {
    "detractor": "detractor_followup",
    "low_score": "detractor_followup",
    "negative_feedback": "detractor_followup",
    "complaint": "complaint",
    "medical_inquiry": "medical_inquiry",
    "manual": "detractor_followup",
    # The team that owns the relationship reaches out (cpxm.predict.outreach).
    "proactive_outreach": "detractor_followup",
}
# A recovery re-survey answer at or above this (0-10) counts as a recovered relationship.
RECOVERED_AT = 7


class CaseStateError(DomainError):
    status_code = 409


@dataclass(frozen=True)
class OpenedCase:
    case: Case
    created: bool


def _event(
    session: Session,
    case: Case,
    event_type: str,
    *,
    actor_user_id: int | None = None,
    at: datetime | None = None,
    **details: Any,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id,
        occurred_at=at or utc_now(),
        actor_user_id=actor_user_id,
        event_type=event_type,
        details=details or None,
    )
    session.add(event)
    return event


def open_case(
    session: Session,
    *,
    case_type: str,
    title: str,
    priority: str = "normal",
    description: str | None = None,
    source_key: str | None = None,
    stakeholder_id: int | None = None,
    response_id: int | None = None,
    feedback_item_id: int | None = None,
    department: str | None = None,
    country: str | None = None,
    therapeutic_area: str | None = None,
    actor_user_id: int | None = None,
    now: datetime | None = None,
) -> OpenedCase:
    """Open a case and route it; with a ``source_key`` already used, return that case instead."""
    if case_type not in CASE_TYPES:
        raise DomainError(f"unknown case type '{case_type}'; choose one of {', '.join(CASE_TYPES)}")
    if priority not in PRIORITIES:
        raise DomainError(f"unknown priority '{priority}'; choose one of {', '.join(PRIORITIES)}")
    if not title.strip():
        raise DomainError("a case needs a title")
    if source_key is not None:
        existing = session.scalar(select(Case).where(Case.source_key == source_key))
        if existing is not None:
            return OpenedCase(case=existing, created=False)
    _check_codes(session, department=department, country=country, area=therapeutic_area)
    stakeholder = session.get(Stakeholder, stakeholder_id) if stakeholder_id else None
    if stakeholder_id is not None and stakeholder is None:
        raise NotFoundError("stakeholder", stakeholder_id)
    if stakeholder is not None and stakeholder.status == "merged":
        # A case on an id identity resolution merged belongs to the golden record it now is.
        stakeholder_id = golden_ids(session, stakeholder_ids=[stakeholder.id])[stakeholder.id]
        stakeholder = session.get(Stakeholder, stakeholder_id)
    now = now or utc_now()
    country = country or (stakeholder.country_code if stakeholder else None)
    hours = sla_hours(case_type, priority)
    case = Case(
        case_type=case_type,
        status="open",
        priority=priority,
        title=title.strip()[:300],
        description=description,
        stakeholder_id=stakeholder_id,
        response_id=response_id,
        feedback_item_id=feedback_item_id,
        opened_at=now,
        due_at=add_business_hours(now, hours, country),
        sla_business_hours=hours,
        source_key=source_key,
        activity=ACTIVITY_OF_TYPE[case_type],
        department_code=department,
        country_code=country,
        therapeutic_area_code=therapeutic_area,
        escalation_level=0,
    )
    # A savepoint: a concurrent scan that opened the same source first wins, without failing ours.
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        if source_key is None:
            raise
        existing = session.scalar(select(Case).where(Case.source_key == source_key))
        if existing is None:
            raise
        return OpenedCase(case=existing, created=False)
    _event(
        session,
        case,
        "opened",
        actor_user_id=actor_user_id,
        at=now,
        case_type=case_type,
        priority=priority,
        source=source_key,
        due_at=case.due_at.isoformat() if case.due_at else None,
    )
    route_case(
        session,
        case=case,
        stakeholder_type=stakeholder.type if stakeholder else None,
        actor_user_id=actor_user_id,
        now=now,
    )
    return OpenedCase(case=case, created=True)


def _check_codes(
    session: Session, *, department: str | None, country: str | None, area: str | None
) -> None:
    errors = [
        field_error(name, f"unknown {label} code '{code}'", code)
        for name, label, model, code in (
            ("department", "department", Department, department),
            ("country", "country", Country, country),
            ("therapeutic_area", "therapeutic area", TherapeuticArea, area),
        )
        if code is not None and session.get(model, code) is None
    ]
    if errors:
        raise FieldError(errors)


def route_case(
    session: Session,
    *,
    case: Case,
    stakeholder_type: str | None = None,
    actor_user_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Assign the Responsible from the RACI matrix, note the Accountable, notify the Informed."""
    now = now or utc_now()
    raci = governance.resolve(
        session,
        activity=case.activity,
        department=case.department_code,
        country=case.country_code,
        therapeutic_area=case.therapeutic_area_code,
        stakeholder_type=stakeholder_type,
    )
    link = f"/cases/{case.id}"
    if not raci.responsible:
        _event(
            session, case, "unrouted", actor_user_id=actor_user_id, at=now, activity=case.activity
        )
        leads = active_users_with_roles(session, ("cx_lead", "admin"))
        notify(
            session,
            user_ids=leads,
            subject=f"Case {case.id} has nobody responsible",
            body=f"No RACI row names a Responsible for {case.activity} in this scope: {case.title}",
            link=link,
        )
        session.flush()
        return
    responsible = raci.responsible[0]
    case.assignee_user_id = responsible.user_id
    case.team_id = responsible.team_id
    if raci.accountable:
        case.accountable_user_id = raci.accountable[0].user_id
        case.accountable_team_id = raci.accountable[0].team_id
    _event(
        session,
        case,
        "routed",
        actor_user_id=actor_user_id,
        at=now,
        responsible=responsible.label,
        accountable=[p.label for p in raci.accountable],
        consulted=[p.label for p in raci.consulted],
        informed=[p.label for p in raci.informed],
    )
    notify(
        session,
        user_ids=people_of(session, [responsible]),
        subject=f"New case {case.id}: {case.title}",
        body=(
            f"A {case.case_type.replace('_', ' ')} case is yours; "
            f"due {case.due_at:%Y-%m-%d %H:%M} UTC."
        ),
        link=link,
    )
    informed = people_of(session, raci.informed)
    if informed:
        notify(
            session,
            user_ids=informed,
            subject=f"Case {case.id} opened: {case.title}",
            body=f"For your information: a {case.case_type.replace('_', ' ')} case was opened.",
            link=link,
        )
        _event(session, case, "informed", at=now, users=sorted(set(informed)))
    session.flush()


def get_case(session: Session, *, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("case", case_id)
    return case


def case_events(session: Session, *, case_id: int) -> list[CaseEvent]:
    return list(
        session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.occurred_at, CaseEvent.id)
        ).all()
    )


CASE_SORTS = ("due", "newest", "oldest", "priority", "updated")
_PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


@dataclass(frozen=True)
class CaseQuery:
    """What a case list asks for: the same filters serve the page, the API and the CSV."""

    status: str | None = None  # open, in_progress, closed, or "active" (not closed)
    case_type: str | None = None
    priority: str | None = None
    # "me", "unassigned", or a user id (as text, from a form)
    assignee: str | None = None
    team_id: int | None = None
    mine_for: User | None = None
    overdue_at: datetime | None = None
    # Matches the case id, its title, and the name of its person (unless that person's type is
    # in ``unsearchable_types``: a role may not find a patient by a name it may not see).
    q: str | None = None
    sort: str = "due"


def list_cases(
    session: Session,
    *,
    status: str | None = None,
    case_type: str | None = None,
    assignee_user_id: int | None = None,
    mine_for: User | None = None,
    overdue_at: datetime | None = None,
    hidden_types: tuple[str, ...] = (),
    limit: int,
    offset: int,
    query: CaseQuery | None = None,
    me: int | None = None,
    unsearchable_types: tuple[str, ...] = (),
) -> tuple[list[Case], int]:
    """Cases filtered and sorted; ``mine_for`` keeps those assigned to the user or to the user's
    team; ``hidden_types`` drops types the caller may not see. ``query`` (when given) adds the
    list's filters, search and order; ``me`` is the asking user, for ``assignee="me"``."""
    wanted = query or CaseQuery(
        status=status, case_type=case_type, mine_for=mine_for, overdue_at=overdue_at
    )
    select_cases: Select[Case] = select(Case)
    if wanted.status == "active":
        select_cases = select_cases.where(Case.status != "closed")
    elif wanted.status is not None:
        select_cases = select_cases.where(Case.status == wanted.status)
    if wanted.case_type is not None:
        select_cases = select_cases.where(Case.case_type == wanted.case_type)
    if wanted.priority is not None:
        select_cases = select_cases.where(Case.priority == wanted.priority)
    if assignee_user_id is not None:
        select_cases = select_cases.where(Case.assignee_user_id == assignee_user_id)
    if wanted.assignee == "unassigned":
        select_cases = select_cases.where(Case.assignee_user_id.is_(None))
    elif wanted.assignee == "me":
        select_cases = select_cases.where(Case.assignee_user_id == (me or 0))
    elif wanted.assignee:
        if not wanted.assignee.isdigit():
            raise FieldError(
                [field_error("assignee", "expected me, unassigned or a user id", wanted.assignee)]
            )
        select_cases = select_cases.where(Case.assignee_user_id == int(wanted.assignee))
    if wanted.team_id is not None:
        select_cases = select_cases.where(Case.team_id == wanted.team_id)
    if wanted.mine_for is not None:
        condition = Case.assignee_user_id == wanted.mine_for.id
        if wanted.mine_for.team_id is not None:
            condition = condition | (Case.team_id == wanted.mine_for.team_id)
        select_cases = select_cases.where(condition)
    if wanted.overdue_at is not None:
        select_cases = select_cases.where(Case.status != "closed", Case.due_at < wanted.overdue_at)
    if hidden_types:
        select_cases = select_cases.where(Case.case_type.not_in(hidden_types))
    if wanted.q and wanted.q.strip():
        select_cases = select_cases.where(_matching(wanted.q.strip(), unsearchable_types))
    total = session.scalar(select(func.count()).select_from(select_cases.subquery())) or 0
    cases = session.scalars(
        select_cases.order_by(*_order(wanted.sort)).limit(limit).offset(offset)
    ).all()
    return list(cases), total


def _matching(text: str, unsearchable_types: tuple[str, ...]) -> Any:
    named = select(Stakeholder.id).where(contains_text(Stakeholder.display_name, text))
    if unsearchable_types:
        named = named.where(Stakeholder.type.not_in(unsearchable_types))
    condition = contains_text(Case.title, text) | Case.stakeholder_id.in_(named)
    if (number := record_number(text)) is not None:
        condition = condition | (Case.id == number)
    return condition


def _order(sort: str) -> list[Any]:
    if sort not in CASE_SORTS:
        raise FieldError([field_error("sort", f"expected one of {', '.join(CASE_SORTS)}", sort)])
    if sort == "newest":
        return [Case.opened_at.desc(), Case.id.desc()]
    if sort == "oldest":
        return [Case.opened_at, Case.id]
    if sort == "priority":
        rank = case_(_PRIORITY_RANK, value=Case.priority, else_=len(_PRIORITY_RANK))
        return [Case.status == "closed", rank, Case.due_at.is_(None), Case.due_at, Case.id]
    if sort == "updated":
        return [func.coalesce(Case.closed_at, Case.opened_at).desc(), Case.id.desc()]
    # Most urgent first: open before closed, the soonest (or most overdue) due date first.
    return [Case.status == "closed", Case.due_at.is_(None), Case.due_at, Case.id]


def assign_case(
    session: Session,
    *,
    case: Case,
    actor_user_id: int | None,
    user_id: int | None = None,
    team_id: int | None = None,
) -> Case:
    if user_id is None and team_id is None:
        raise DomainError("assign to a user_id or a team_id")
    if user_id is not None and session.get(User, user_id) is None:
        raise NotFoundError("user", user_id)
    if team_id is not None and session.get(Team, team_id) is None:
        raise NotFoundError("team", team_id)
    _require_open(case)
    case.assignee_user_id = user_id
    case.team_id = team_id
    _event(session, case, "assigned", actor_user_id=actor_user_id, user_id=user_id, team_id=team_id)
    notify(
        session,
        user_ids=[user_id] if user_id else team_member_ids(session, team_id or 0),
        subject=f"Case {case.id} assigned to you: {case.title}",
        body=f"Due {case.due_at:%Y-%m-%d %H:%M} UTC.",
        link=f"/cases/{case.id}",
    )
    session.flush()
    return case


def comment_case(session: Session, *, case: Case, actor_user_id: int | None, text: str) -> Case:
    if not text.strip():
        raise DomainError("a comment needs text")
    _event(session, case, "comment", actor_user_id=actor_user_id, text=text.strip()[:5000])
    session.flush()
    return case


def start_case(session: Session, *, case: Case, actor_user_id: int | None) -> Case:
    _require_open(case)
    if case.status == "open":
        case.status = "in_progress"
        _event(session, case, "started", actor_user_id=actor_user_id)
        session.flush()
    return case


def close_case(
    session: Session,
    *,
    case: Case,
    actor_user_id: int | None,
    resolution_code: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Close with a resolution code, and invite the person to the service-recovery re-survey
    (``cpxm.cases.recovery``) or record why the distribution's rules held it back."""
    if resolution_code not in RESOLUTION_CODES:
        raise DomainError(
            f"unknown resolution code '{resolution_code}'; "
            f"choose one of {', '.join(RESOLUTION_CODES)}"
        )
    _require_open(case)
    now = now or utc_now()
    case.status = "closed"
    case.closed_at = now
    case.resolution_code = resolution_code
    case.resolution_note = note
    within = case.due_at is None or now <= case.due_at
    _event(
        session,
        case,
        "closed",
        actor_user_id=actor_user_id,
        at=now,
        resolution_code=resolution_code,
        within_sla=within,
        business_hours=round(business_hours_between(case.opened_at, now, case.country_code), 2),
    )
    if case.stakeholder_id is not None and resolution_code not in ("duplicate", "not_actionable"):
        _invite_to_recovery(session, case=case, now=now)
    session.flush()
    return case


def _invite_to_recovery(session: Session, *, case: Case, now: datetime) -> None:
    if case.recovery_invitation_id is not None:
        return  # closed again after a reopen: one re-survey per case
    invite = invite_to_recovery(session, case=case)
    if invite.invitation is None:
        case.recovery_held_reason = "; ".join(hold.reason for hold in invite.holds)[:1000]
        _event(
            session,
            case,
            "recovery_survey_held",
            at=now,
            rules=[hold.rule for hold in invite.holds],
            reasons=[hold.reason for hold in invite.holds],
        )
        return
    case.recovery_invitation_id = invite.invitation.id
    case.recovery_sent_at = now
    case.recovery_held_reason = None
    _event(
        session,
        case,
        "recovery_survey_created",
        at=now,
        invitation_id=invite.invitation.id,
        channel=invite.invitation.channel_code,
    )


def reopen_case(session: Session, *, case: Case, actor_user_id: int | None, reason: str) -> Case:
    if case.status != "closed":
        raise CaseStateError(f"case {case.id} is not closed")
    case.status = "in_progress"
    case.closed_at = None
    case.resolution_code = None
    _event(session, case, "reopened", actor_user_id=actor_user_id, reason=reason[:1000])
    session.flush()
    return case


def _require_open(case: Case) -> None:
    if case.status == "closed":
        raise CaseStateError(f"case {case.id} is closed; reopen it first")


def case_for_recovery(session: Session, *, token: str) -> Case:
    case = session.scalar(select(Case).where(Case.recovery_token == token))
    if case is None:
        raise NotFoundError("recovery survey", "with this link")
    return case


def record_recovery_answer(session: Session, *, token: str, score: int) -> Case:
    """The person's 0-10 answer on a ``/r/`` link (cases closed before re-surveys were survey
    invitations); one answer per case."""
    if not 0 <= score <= 10:
        raise DomainError("the answer is a number from 0 to 10")
    case = case_for_recovery(session, token=token)
    if case.recovery_answered_at is not None:
        raise CaseStateError("this question was already answered; thank you")
    record_recovery_score(session, case=case, score=score, at=utc_now())
    return case


def record_recovery_score(
    session: Session, *, case: Case, score: float, at: datetime, response_id: int | None = None
) -> bool:
    """Put the re-survey's answer on the case, once; False if it already had one."""
    if case.recovery_answered_at is not None:
        return False
    case.recovery_score = float(score)
    case.recovery_answered_at = at
    _event(
        session,
        case,
        "recovery_answered",
        at=at,
        score=score,
        recovered=score >= RECOVERED_AT,
        response_id=response_id,
    )
    session.flush()
    return True


@dataclass(frozen=True)
class RecoveryFigures:
    surveyed: int
    answered: int
    recovered: int

    @property
    def recovery_rate(self) -> float | None:
        return self.recovered / self.answered if self.answered else None


def recovery_figures(
    session: Session,
    *,
    answered_from: datetime | None = None,
    answered_to: datetime | None = None,
    department: str | None = None,
    therapeutic_area: str | None = None,
) -> RecoveryFigures:
    """Recovery surveys sent, answered and recovered; optionally only answers given in
    [``answered_from``, ``answered_to``) and cases of one department or therapeutic area."""
    query = select(
        func.count(Case.recovery_sent_at),
        func.count(Case.recovery_answered_at),
        func.count(Case.id).filter(Case.recovery_score >= RECOVERED_AT),
    )
    if answered_from is not None:
        query = query.where(Case.recovery_answered_at >= answered_from)
    if answered_to is not None:
        query = query.where(Case.recovery_answered_at < answered_to)
    query = _in_scope(query, department=department, therapeutic_area=therapeutic_area)
    row = session.execute(query).one()
    return RecoveryFigures(surveyed=row[0], answered=row[1], recovered=row[2])


@dataclass(frozen=True)
class CaseCounts:
    opened: int  # opened in the window
    closed: int  # closed in the window
    open_at_end: int  # opened before the window's end and not closed by then


def case_counts(
    session: Session,
    *,
    opened_from: datetime,
    opened_to: datetime,
    department: str | None = None,
    therapeutic_area: str | None = None,
) -> CaseCounts:
    """How many cases were opened and closed in [``opened_from``, ``opened_to``), and how many
    were open at its end; optionally of one department or therapeutic area."""
    opened = func.count(Case.id).filter(Case.opened_at >= opened_from, Case.opened_at < opened_to)
    closed = func.count(Case.id).filter(Case.closed_at >= opened_from, Case.closed_at < opened_to)
    still_open = func.count(Case.id).filter(
        Case.opened_at < opened_to, or_(Case.closed_at.is_(None), Case.closed_at >= opened_to)
    )
    query = _in_scope(
        select(opened, closed, still_open), department=department, therapeutic_area=therapeutic_area
    )
    row = session.execute(query).one()
    return CaseCounts(opened=int(row[0]), closed=int(row[1]), open_at_end=int(row[2]))


def _in_scope(
    query: Select[*_Ts], *, department: str | None, therapeutic_area: str | None
) -> Select[*_Ts]:
    if department is not None:
        query = query.where(Case.department_code == department)
    if therapeutic_area is not None:
        query = query.where(Case.therapeutic_area_code == therapeutic_area)
    return query


@dataclass(frozen=True)
class SlaSweep:
    escalated: list[int]
    reminded: list[int]


def sweep_slas(session: Session, *, now: datetime | None = None) -> SlaSweep:
    """Escalate breached cases to their Accountable, and remind assignees of cases about to
    breach (a quarter of the SLA or less left). Each happens once per case."""
    now = now or utc_now()
    escalated: list[int] = []
    reminded: list[int] = []
    breached = session.scalars(
        select(Case)
        .where(Case.status != "closed", Case.due_at < now, Case.escalation_level == 0)
        .order_by(Case.id)
    ).all()
    for case in breached:
        case.escalation_level = 1
        case.escalated_at = now
        accountable = [
            Party(team_id=case.accountable_team_id, user_id=case.accountable_user_id, label="")
        ]
        people = (
            people_of(session, accountable)
            if (case.accountable_user_id or case.accountable_team_id)
            else active_users_with_roles(session, ("cx_lead",))
        )
        _event(session, case, "escalated", at=now, to_users=sorted(set(people)))
        notify(
            session,
            user_ids=people,
            subject=f"Case {case.id} breached its SLA: {case.title}",
            body=(
                f"Due {case.due_at:%Y-%m-%d %H:%M} UTC and still {case.status.replace('_', ' ')}; "
                "you are accountable."
            ),
            link=f"/cases/{case.id}",
        )
        escalated.append(case.id)
    upcoming = session.scalars(
        select(Case)
        .where(Case.status != "closed", Case.due_at >= now, Case.last_reminded_at.is_(None))
        .order_by(Case.id)
    ).all()
    for case in upcoming:
        assert case.due_at is not None
        left = business_hours_between(now, case.due_at, case.country_code)
        if left > max(1.0, (case.sla_business_hours or 0) / 4):
            continue
        case.last_reminded_at = now
        people = people_of(
            session, [Party(team_id=case.team_id, user_id=case.assignee_user_id, label="")]
        )
        _event(session, case, "reminded", at=now, business_hours_left=round(left, 2))
        notify(
            session,
            user_ids=people,
            subject=f"Case {case.id} is due soon: {case.title}",
            body=f"{left:.1f} business hour(s) left; due {case.due_at:%Y-%m-%d %H:%M} UTC.",
            link=f"/cases/{case.id}",
        )
        reminded.append(case.id)
    session.flush()
    return SlaSweep(escalated=escalated, reminded=reminded)
