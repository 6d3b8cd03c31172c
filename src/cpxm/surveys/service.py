"""Reading surveys with their questions, and responses with their answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.errors import NotFoundError
from cpxm.surveys.models import Answer, Question, Response, Survey
from cpxm.timeutil import to_naive_utc


@dataclass(frozen=True)
class SurveyWithQuestions:
    survey: Survey
    questions: list[Question]


@dataclass(frozen=True)
class ResponseWithAnswers:
    response: Response
    answers: list[tuple[Answer, Question]]


def list_surveys(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Survey], int]:
    """Surveys matching the filters, newest first."""
    conditions: list[Any] = []
    if kind is not None:
        conditions.append(Survey.kind == kind)
    if status is not None:
        conditions.append(Survey.status == status)
    total = session.scalar(select(func.count(Survey.id)).where(*conditions)) or 0
    page = (
        select(Survey)
        .where(*conditions)
        .order_by(Survey.created_at.desc(), Survey.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(page)), total


def get_survey(session: Session, *, survey_id: int) -> SurveyWithQuestions:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFoundError("survey", survey_id)
    questions = session.scalars(
        select(Question)
        .where(Question.survey_id == survey_id)
        .order_by(Question.position, Question.id)
    )
    return SurveyWithQuestions(survey=survey, questions=list(questions))


def list_responses(
    session: Session,
    *,
    survey_id: int | None = None,
    stakeholder_id: int | None = None,
    status: str | None = None,
    submitted_from: datetime | None = None,
    submitted_to: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Response], int]:
    """Responses matching the filters, latest started first; ``submitted_to`` is exclusive."""
    conditions: list[Any] = []
    if survey_id is not None:
        conditions.append(Response.survey_id == survey_id)
    if stakeholder_id is not None:
        conditions.append(Response.stakeholder_id == stakeholder_id)
    if status is not None:
        conditions.append(Response.status == status)
    if submitted_from is not None:
        conditions.append(Response.submitted_at >= to_naive_utc(submitted_from))
    if submitted_to is not None:
        conditions.append(Response.submitted_at < to_naive_utc(submitted_to))
    total = session.scalar(select(func.count(Response.id)).where(*conditions)) or 0
    page = (
        select(Response)
        .where(*conditions)
        .order_by(Response.started_at.desc(), Response.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(page)), total


def get_response(session: Session, *, response_id: int) -> ResponseWithAnswers:
    response = session.get(Response, response_id)
    if response is None:
        raise NotFoundError("response", response_id)
    rows = session.execute(
        select(Answer, Question)
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.response_id == response_id)
        .order_by(Question.position, Question.id)
    )
    return ResponseWithAnswers(response=response, answers=[(row[0], row[1]) for row in rows])
