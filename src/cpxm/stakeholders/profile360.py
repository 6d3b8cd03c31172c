"""The stakeholder 360: everything the store knows about one golden record, gathered for a page.

This is read-side composition, like ``cpxm.access.records``: it reads the tables of the domains
above stakeholders (identity, interactions, surveys, feedback, cases, safety, journeys) but never
writes them, and only the stakeholder pages import it. Each section is one or two indexed queries
on ``stakeholder_id``; the timeline is paged in the store, so a person with thousands of
interactions costs what a page of them costs. What a role may see of each record is decided
afterwards, by the shields in ``cpxm.access``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cpxm.cases.models import Case
from cpxm.feedback import service as feedback_service
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.identity.merges import golden_record_provenance
from cpxm.identity.models import SourceRecord
from cpxm.interactions.models import Interaction
from cpxm.journeys.models import Journey, JourneyStage
from cpxm.safety.models import SafetyCase
from cpxm.stakeholders.models import Consent, Stakeholder
from cpxm.surveys.fatigue import Hold, holds_for
from cpxm.surveys.models import Answer, Invitation, Question, Response, Survey

PRESSURE_WINDOWS = (7, 30, 90)


@dataclass(frozen=True)
class TimelineFilter:
    channel: str | None = None
    department: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


@dataclass(frozen=True)
class SourceRecordRow:
    id: int
    source_system: str
    source_id: str
    imported_at: datetime
    # Attributes of the golden record this source record gave, with the survivorship rule.
    gave: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ConsentRow:
    purpose: str
    channel: str | None  # None: every channel
    status: str
    recorded_at: datetime
    source: str


@dataclass(frozen=True)
class Pressure:
    """Contacts in the last 7, 30 and 90 days, by department over 30 days, and survey holds."""

    counts: dict[int, int]
    departments_30d: list[tuple[str, int]]
    holds: list[Hold]
    channel: str


@dataclass(frozen=True)
class InvitationRow:
    id: int
    survey_name: str
    channel: str
    status: str
    sent_at: datetime | None
    opened_at: datetime | None
    reminders_sent: int


@dataclass(frozen=True)
class JourneyPosition:
    journey: str
    stage: str
    position: int
    stages: int
    is_moment_of_truth: bool
    last_at: datetime


@dataclass(frozen=True)
class SafetyCaseRow:
    id: int
    kind: str
    subtypes: list[str]
    status: str
    aware_at: datetime
    due_at: datetime
    product_code: str | None


def source_records(session: Session, *, stakeholder_id: int) -> list[SourceRecordRow]:
    """The departmental records linked to the golden record, each with the attributes it gave."""
    gave: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for row in golden_record_provenance(session, stakeholder_id=stakeholder_id):
        gave[row["source_record_id"]].append((row["attribute"], row["rule"], row["reason"]))
    rows = session.execute(
        select(
            SourceRecord.id,
            SourceRecord.source_system,
            SourceRecord.source_id,
            SourceRecord.imported_at,
        )
        .where(SourceRecord.stakeholder_id == stakeholder_id)
        .order_by(SourceRecord.source_system, SourceRecord.id)
    )
    return [
        SourceRecordRow(
            id=record_id,
            source_system=system,
            source_id=source_id,
            imported_at=imported_at,
            gave=gave.get(record_id, []),
        )
        for record_id, system, source_id, imported_at in rows
    ]


def consents(session: Session, *, stakeholder_id: int) -> list[ConsentRow]:
    """The decision in force per purpose and channel (the latest one), by purpose."""
    rows = session.scalars(
        select(Consent)
        .where(Consent.stakeholder_id == stakeholder_id)
        .order_by(Consent.recorded_at, Consent.id)
    )
    latest: dict[tuple[str, str | None], Consent] = {}
    for consent in rows:
        latest[(consent.purpose, consent.channel_code)] = consent
    return [
        ConsentRow(c.purpose, c.channel_code, c.status, c.recorded_at, c.source)
        for _key, c in sorted(latest.items(), key=lambda item: (item[0][0], item[0][1] or ""))
    ]


def contact_pressure(
    session: Session, *, stakeholder: Stakeholder, channel: str, now: datetime
) -> Pressure:
    """How hard the company is pressing on this person now, and whether a survey may go out."""
    since = now - timedelta(days=max(PRESSURE_WINDOWS))
    moments = session.execute(
        select(Interaction.occurred_at, Interaction.department_code).where(
            Interaction.stakeholder_id == stakeholder.id,
            Interaction.occurred_at >= since,
            Interaction.occurred_at <= now,
        )
    ).all()
    counts = {
        days: sum(1 for at, _d in moments if at >= now - timedelta(days=days))
        for days in PRESSURE_WINDOWS
    }
    by_department: dict[str, int] = defaultdict(int)
    for at, department in moments:
        if at >= now - timedelta(days=30):
            by_department[department] += 1
    holds = holds_for(session, stakeholders=[stakeholder], channel=channel, now=now)
    return Pressure(
        counts=counts,
        departments_30d=sorted(by_department.items(), key=lambda item: (-item[1], item[0])),
        holds=holds.get(stakeholder.id, []),
        channel=channel,
    )


def _timeline_query(stakeholder_id: int, timeline_filter: TimelineFilter) -> Select[Any]:
    query = select(Interaction).where(Interaction.stakeholder_id == stakeholder_id)
    if timeline_filter.channel:
        query = query.where(Interaction.channel_code == timeline_filter.channel)
    if timeline_filter.department:
        query = query.where(Interaction.department_code == timeline_filter.department)
    if timeline_filter.occurred_from:
        query = query.where(Interaction.occurred_at >= timeline_filter.occurred_from)
    if timeline_filter.occurred_to:
        query = query.where(Interaction.occurred_at < timeline_filter.occurred_to)
    return query


def timeline(
    session: Session,
    *,
    stakeholder_id: int,
    timeline_filter: TimelineFilter,
    limit: int,
    offset: int,
) -> tuple[list[Interaction], int]:
    """Interactions newest first, filtered, one page of them; with the count of all that match.

    The count rides on the page's rows (a window over every match), so a page is one round
    trip; only a page past the end asks for the count on its own."""
    query = _timeline_query(stakeholder_id, timeline_filter)
    rows = session.execute(
        query.add_columns(func.count().over().label("total"))
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    if rows:
        return [row[0] for row in rows], int(rows[0].total)
    if not offset:
        return [], 0
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return [], int(total)


def timeline_facets(session: Session, *, stakeholder_id: int) -> dict[str, list[tuple[str, int]]]:
    """The channels and departments the person's interactions came through, with counts."""
    counts: dict[str, dict[str, int]] = {
        "channel": defaultdict(int),
        "department": defaultdict(int),
    }
    # One pass: the (channel, department) pairs, added up per channel and per department.
    for channel, department, count in session.execute(
        select(Interaction.channel_code, Interaction.department_code, func.count())
        .where(Interaction.stakeholder_id == stakeholder_id)
        .group_by(Interaction.channel_code, Interaction.department_code)
    ):
        counts["channel"][channel] += int(count)
        counts["department"][department] += int(count)
    return {
        name: sorted(found.items(), key=lambda item: (-item[1], item[0] or ""))
        for name, found in counts.items()
    }


def invitations(
    session: Session,
    *,
    stakeholder_id: int,
    limit: int = 50,
    hidden_survey_ids: Sequence[int] = (),
) -> list[InvitationRow]:
    rows = session.execute(
        select(Invitation, Survey.name)
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(
            Invitation.stakeholder_id == stakeholder_id,
            Invitation.survey_id.not_in(hidden_survey_ids),
        )
        .order_by(Invitation.sent_at.desc(), Invitation.id.desc())
        .limit(limit)
    )
    return [
        InvitationRow(
            id=invitation.id,
            survey_name=name,
            channel=invitation.channel_code,
            status=invitation.status,
            sent_at=invitation.sent_at,
            opened_at=invitation.opened_at,
            reminders_sent=invitation.reminders_sent,
        )
        for invitation, name in rows
    ]


def responses(
    session: Session, *, stakeholder_id: int, limit: int = 20, hidden_survey_ids: Sequence[int] = ()
) -> tuple[list[Response], dict[int, list[tuple[Answer, Question]]], dict[int, str]]:
    """The person's latest responses (none of ``hidden_survey_ids``: confidential surveys), their
    answers in question order, and survey names."""
    rows = session.execute(
        select(Response, Survey.name)
        .join(Survey, Survey.id == Response.survey_id)
        .where(
            Response.stakeholder_id == stakeholder_id,
            Response.survey_id.not_in(hidden_survey_ids),
        )
        .order_by(Response.started_at.desc(), Response.id.desc())
        .limit(limit)
    ).all()
    found = [response for response, _name in rows]
    names = {response.survey_id: name for response, name in rows}
    answers: dict[int, list[tuple[Answer, Question]]] = defaultdict(list)
    if found:
        for answer, question in session.execute(
            select(Answer, Question)
            .join(Question, Question.id == Answer.question_id)
            .where(Answer.response_id.in_([r.id for r in found]))
            .order_by(Answer.response_id, Question.position)
        ):
            answers[answer.response_id].append((answer, question))
    return found, dict(answers), names


def feedback(
    session: Session, *, stakeholder_id: int, limit: int = 20, hidden_survey_ids: Sequence[int] = ()
) -> tuple[list[tuple[FeedbackItem, FeedbackAnalysis | None]], int]:
    return feedback_service.list_feedback(
        session,
        feedback_filter=feedback_service.FeedbackFilter(
            stakeholder_id=stakeholder_id, hidden_survey_ids=tuple(hidden_survey_ids)
        ),
        limit=limit,
        offset=0,
    )


def cases(
    session: Session, *, stakeholder_id: int, hidden_types: tuple[str, ...], limit: int = 50
) -> list[Case]:
    query = select(Case).where(Case.stakeholder_id == stakeholder_id)
    if hidden_types:
        query = query.where(Case.case_type.not_in(hidden_types))
    return list(session.scalars(query.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit)))


def safety_cases(session: Session, *, stakeholder_id: int) -> list[SafetyCaseRow]:
    """Safety cases the person reported, or that came from their feedback."""
    from_feedback = select(FeedbackItem.id).where(FeedbackItem.stakeholder_id == stakeholder_id)
    rows = session.scalars(
        select(SafetyCase)
        .where(
            (SafetyCase.reporter_stakeholder_id == stakeholder_id)
            | SafetyCase.feedback_item_id.in_(from_feedback)
        )
        .order_by(SafetyCase.aware_at.desc(), SafetyCase.id.desc())
    )
    return [
        SafetyCaseRow(
            id=case.id,
            kind=case.kind,
            subtypes=list(case.subtypes or []),
            status=case.status,
            aware_at=case.aware_at,
            due_at=case.due_at,
            product_code=case.product_code,
        )
        for case in rows
    ]


def journeys(session: Session, *, stakeholder_id: int) -> list[JourneyPosition]:
    """Each journey the person's interactions placed them in, at the stage of the latest one."""
    stage_counts = (
        select(JourneyStage.journey_id, func.count().label("stages"))
        .group_by(JourneyStage.journey_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Journey.id,
            Journey.name,
            JourneyStage.name,
            JourneyStage.position,
            JourneyStage.is_moment_of_truth,
            Interaction.occurred_at,
            stage_counts.c.stages,
        )
        .join(JourneyStage, JourneyStage.id == Interaction.journey_stage_id)
        .join(Journey, Journey.id == JourneyStage.journey_id)
        .join(stage_counts, stage_counts.c.journey_id == Journey.id)
        .where(Interaction.stakeholder_id == stakeholder_id)
        .order_by(Interaction.occurred_at, Interaction.id)
    )
    latest: dict[int, tuple[str, str, int, bool, datetime, int]] = {}
    for journey_id, journey, stage, position, moment, at, stages in rows:
        latest[journey_id] = (journey, stage, position, bool(moment), at, int(stages))
    return [
        JourneyPosition(
            journey=journey,
            stage=stage,
            position=position,
            stages=stages,
            is_moment_of_truth=moment,
            last_at=at,
        )
        for journey, stage, position, moment, at, stages in sorted(
            latest.values(), key=lambda item: item[0]
        )
    ]
