"""Whose problem an initiative is, and which of them the problem touched: SQL built once.

An initiative's scope is its stakeholders: active golden records of its stakeholder type with
its therapeutic area among their stated interests (either left out: everyone). The people a
problem *touches* in a window are, within the scope:

- those whose feedback carries the initiative's theme;
- those who answered the driver question below the middle of its scale;
- those who reached the journey stage (an interaction tagged with it).

Each is a SELECT of stakeholder ids; reach counts their union.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, union
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem, FeedbackTheme
from cpxm.initiatives.models import Initiative
from cpxm.interactions.models import Interaction
from cpxm.journeys.models import Journey, JourneyStage
from cpxm.stakeholders.models import Stakeholder, TherapeuticInterest
from cpxm.surveys.models import Answer, Question, Response, Survey

REACH_DAYS = 90  # RICE counts reach per quarter


@dataclass(frozen=True)
class Window:
    start: datetime  # inclusive
    end: datetime  # exclusive

    @classmethod
    def days_to(cls, day: date, days: int) -> Window:
        end = datetime.combine(day + timedelta(days=1), time())
        return cls(end - timedelta(days=days), end)


def latest_day(session: Session) -> date:
    """'Today' for the data: the day of the latest interaction or feedback in the store."""
    latest = [
        session.scalar(select(func.max(Interaction.occurred_at))),
        session.scalar(select(func.max(FeedbackItem.received_at))),
    ]
    found = [moment for moment in latest if moment is not None]
    return max(found).date() if found else date.today()


def in_scope(initiative: Initiative, stakeholder_id: Any) -> list[ColumnElement[bool]]:
    """Conditions that keep ``stakeholder_id`` to the initiative's active stakeholders."""
    people = select(Stakeholder.id).where(Stakeholder.status == "active")
    if initiative.stakeholder_type:
        people = people.where(Stakeholder.type == initiative.stakeholder_type)
    conditions: list[ColumnElement[bool]] = [stakeholder_id.in_(people)]
    if initiative.therapeutic_area_code:
        conditions.append(
            stakeholder_id.in_(
                select(TherapeuticInterest.stakeholder_id).where(
                    TherapeuticInterest.therapeutic_area_code == initiative.therapeutic_area_code
                )
            )
        )
    return conditions


def theme_people(initiative: Initiative, window: Window) -> Select[Any] | None:
    if not initiative.theme_code:
        return None
    return (
        select(FeedbackItem.stakeholder_id.label("stakeholder_id"))
        .join(FeedbackTheme, FeedbackTheme.feedback_item_id == FeedbackItem.id)
        .where(
            FeedbackTheme.theme_code == initiative.theme_code,
            FeedbackItem.received_at >= window.start,
            FeedbackItem.received_at < window.end,
            *in_scope(initiative, FeedbackItem.stakeholder_id),
        )
    )


def driver_question(session: Session, initiative: Initiative) -> Question | None:
    if not (initiative.survey_code and initiative.driver_code):
        return None
    return session.scalars(
        select(Question)
        .join(Survey, Survey.id == Question.survey_id)
        .where(Survey.code == initiative.survey_code, Question.code == initiative.driver_code)
    ).one_or_none()


def scale_of(question: Question) -> tuple[float, float]:
    options = dict(question.options or {})
    fixed = {"nps": (0.0, 10.0), "csat": (1.0, 5.0), "ces": (1.0, 7.0)}
    if question.question_type in fixed:
        return fixed[question.question_type]
    low, high = options.get("min", 1), options.get("max", 5)
    return float(low), float(high)


def driver_people(session: Session, initiative: Initiative, window: Window) -> Select[Any] | None:
    question = driver_question(session, initiative)
    if question is None:
        return None
    low, high = scale_of(question)
    return (
        select(Response.stakeholder_id.label("stakeholder_id"))
        .join(Answer, Answer.response_id == Response.id)
        .where(
            Answer.question_id == question.id,
            Answer.value_number >= low,
            Answer.value_number < (low + high) / 2,
            Response.status == "complete",
            Response.submitted_at >= window.start,
            Response.submitted_at < window.end,
            *in_scope(initiative, Response.stakeholder_id),
        )
    )


def stage_id(session: Session, initiative: Initiative) -> int | None:
    if not (initiative.journey_code and initiative.stage_code):
        return None
    return session.scalar(
        select(JourneyStage.id)
        .join(Journey, Journey.id == JourneyStage.journey_id)
        .where(Journey.code == initiative.journey_code, JourneyStage.code == initiative.stage_code)
    )


def stage_people(session: Session, initiative: Initiative, window: Window) -> Select[Any] | None:
    found = stage_id(session, initiative)
    if found is None:
        return None
    return select(Interaction.stakeholder_id.label("stakeholder_id")).where(
        Interaction.journey_stage_id == found,
        Interaction.occurred_at >= window.start,
        Interaction.occurred_at < window.end,
        *in_scope(initiative, Interaction.stakeholder_id),
    )


@dataclass(frozen=True)
class Reach:
    stakeholders: int  # distinct people touched in the window (the union)
    by_source: dict[str, int]  # theme, driver, stage -> people touched through each
    window_start: date
    window_end: date  # inclusive


def touched(session: Session, initiative: Initiative, window: Window) -> dict[str, Select[Any]]:
    sources = {
        "theme": theme_people(initiative, window),
        "driver": driver_people(session, initiative, window),
        "stage": stage_people(session, initiative, window),
    }
    return {name: query for name, query in sources.items() if query is not None}


def touched_union(session: Session, initiative: Initiative, window: Window) -> Any | None:
    """A subquery of the distinct stakeholder ids the problem touched (None: no evidence)."""
    sources = list(touched(session, initiative, window).values())
    if not sources:
        return None
    return union(*sources).subquery()


def reach(session: Session, initiative: Initiative, *, as_of: date) -> Reach:
    """How many stakeholders the problem touched in the quarter (90 days) to ``as_of``."""
    window = Window.days_to(as_of, REACH_DAYS)
    sources = touched(session, initiative, window)
    by_source = {
        name: int(
            session.scalar(select(func.count(func.distinct(query.subquery().c.stakeholder_id))))
            or 0
        )
        for name, query in sources.items()
    }
    people = touched_union(session, initiative, window)
    total = (
        int(session.scalar(select(func.count()).select_from(people)) or 0)
        if people is not None
        else 0
    )
    return Reach(total, by_source, window.start.date(), (window.end - timedelta(days=1)).date())


def and_all(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(*conditions)
