"""Surveys with their questions and versions, and responses with their answers.

A survey is saved from a definition document (``cpxm.surveys.definition``): the first save creates
it at version 1; a later save that changes anything publishes the next version. A question code
keeps its meaning across versions (its type may not change), so trends compare like with like.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cpxm.errors import NotFoundError
from cpxm.surveys.definition import (
    DefinitionError,
    SurveyDefinition,
    definition_document,
    localise,
    parse_definition,
    question_options,
)
from cpxm.surveys.models import Answer, Question, Response, Survey, SurveyVersion
from cpxm.textmatch import contains_text
from cpxm.timeutil import to_naive_utc


@dataclass(frozen=True)
class SurveyWithQuestions:
    survey: Survey
    questions: list[Question]


@dataclass(frozen=True)
class ResponseWithAnswers:
    response: Response
    answers: list[tuple[Answer, Question]]


SURVEY_SORTS = (("newest", "Newest first"), ("oldest", "Oldest first"), ("name", "Name"))
_SURVEY_ORDER: dict[str, tuple[Any, ...]] = {
    "newest": (Survey.created_at.desc(), Survey.id.desc()),
    "oldest": (Survey.created_at, Survey.id),
    "name": (func.lower(Survey.name), Survey.id),
}


def list_surveys(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    q: str | None = None,
    sort: str = "newest",
    limit: int,
    offset: int,
) -> tuple[list[Survey], int]:
    """Surveys matching the filters (``q``: a part of the name or code), newest first unless
    ``sort`` (one of :data:`SURVEY_SORTS`) says otherwise."""
    conditions: list[Any] = []
    if q:
        conditions.append(or_(contains_text(Survey.name, q), contains_text(Survey.code, q)))
    if kind is not None:
        conditions.append(Survey.kind == kind)
    if status is not None:
        conditions.append(Survey.status == status)
    total = session.scalar(select(func.count(Survey.id)).where(*conditions)) or 0
    page = (
        select(Survey).where(*conditions).order_by(*_SURVEY_ORDER[sort]).limit(limit).offset(offset)
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
    hidden_survey_ids: list[int] | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Response], int]:
    """Responses matching the filters, latest started first; ``submitted_to`` is exclusive;
    the responses of ``hidden_survey_ids`` (confidential surveys) are left out."""
    conditions: list[Any] = []
    if hidden_survey_ids:
        conditions.append(Response.survey_id.not_in(hidden_survey_ids))
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


@dataclass(frozen=True)
class SavedDefinition:
    survey: Survey
    created: bool  # a new survey (version 1)
    changed: bool  # a new version was published (always true when created)


def save_definition(session: Session, *, document: dict[str, Any]) -> SavedDefinition:
    """Create a survey from a definition, or publish its next version if the definition changed."""
    definition = parse_definition(document)
    stored_document = definition_document(definition)
    survey = session.scalars(select(Survey).where(Survey.code == definition.code)).one_or_none()
    if survey is None:
        survey = Survey(code=definition.code, version=1)
        _fill_survey(survey, definition)
        session.add(survey)
        session.flush()
        _write_questions(session, survey, definition, existing={})
        session.add(SurveyVersion(survey_id=survey.id, version=1, definition=stored_document))
        session.flush()
        return SavedDefinition(survey, created=True, changed=True)
    current = current_definition(session, survey=survey)
    if definition_document(current) == stored_document:
        return SavedDefinition(survey, created=False, changed=False)
    existing = {
        question.code: question
        for question in session.scalars(select(Question).where(Question.survey_id == survey.id))
    }
    changed_types = [
        f"question '{question.code}' was {existing[question.code].question_type}, "
        f"now {question.type}; give the changed question a new code"
        for _page, question in definition.questions()
        if question.code in existing and existing[question.code].question_type != question.type
    ]
    if changed_types:
        raise DefinitionError(changed_types)
    survey.version += 1
    _fill_survey(survey, definition)
    _write_questions(session, survey, definition, existing=existing)
    session.add(
        SurveyVersion(survey_id=survey.id, version=survey.version, definition=stored_document)
    )
    session.flush()
    return SavedDefinition(survey, created=False, changed=True)


def _fill_survey(survey: Survey, definition: SurveyDefinition) -> None:
    survey.name = localise(definition.name, definition.default_language, "")
    survey.kind = definition.kind
    survey.status = definition.status
    survey.default_language = definition.default_language
    survey.audience = definition.audience.model_dump(mode="json")
    survey.confidential = definition.is_confidential


def _write_questions(
    session: Session,
    survey: Survey,
    definition: SurveyDefinition,
    *,
    existing: dict[str, Question],
) -> None:
    asked = set()
    for position, (page, question) in enumerate(definition.questions(), start=1):
        asked.add(question.code)
        row = existing.get(question.code)
        if row is None:
            row = Question(survey_id=survey.id, code=question.code, question_type=question.type)
            session.add(row)
        row.position = position
        row.prompt = localise(question.prompt, definition.default_language, "")
        row.options = question_options(question, page)
        row.required = question.required
        row.removed_in_version = None
    for code, row in existing.items():
        if code not in asked and row.removed_in_version is None:
            row.removed_in_version = survey.version
    session.flush()


def change_status(session: Session, *, survey: Survey, status: str) -> SavedDefinition:
    """Open (``active``), close or return a survey to draft: its definition's next version
    with the new status, so every version says what respondents met."""
    document = export_definition(session, survey_id=survey.id)
    document["status"] = status
    return save_definition(session, document=document)


def current_definition(session: Session, *, survey: Survey) -> SurveyDefinition:
    return definition_of_version(session, survey_id=survey.id, version=survey.version)


def definition_of_version(session: Session, *, survey_id: int, version: int) -> SurveyDefinition:
    """The definition a version was published with (what its respondents saw).

    Shared and cached: treat it as read-only.
    """
    stored = session.scalars(
        select(definition_text()).where(
            SurveyVersion.survey_id == survey_id, SurveyVersion.version == version
        )
    ).one_or_none()
    if stored is None:
        raise NotFoundError("survey version", f"{survey_id}/{version}")
    return parsed_definition(stored)


def definition_text() -> ColumnElement[str]:
    """A version's definition as the text it is stored as (the key of :func:`parsed_definition`)."""
    return cast(SurveyVersion.definition, Text)


@lru_cache(maxsize=256)
def parsed_definition(stored: str) -> SurveyDefinition:
    """A published definition, checked once per process: versions never change once published,
    and every respondent request needs one. Keyed by the stored text itself, so a cache entry
    can never answer for another survey's or another database's definition."""
    return SurveyDefinition.model_validate(json.loads(stored))


def export_definition(
    session: Session, *, survey_id: int, version: int | None = None
) -> dict[str, Any]:
    """A survey's definition (its current version unless one is named), ready to import again."""
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFoundError("survey", survey_id)
    definition = definition_of_version(
        session, survey_id=survey_id, version=version or survey.version
    )
    return definition_document(definition)


def list_versions(session: Session, *, survey_id: int) -> list[SurveyVersion]:
    return list(
        session.scalars(
            select(SurveyVersion)
            .where(SurveyVersion.survey_id == survey_id)
            .order_by(SurveyVersion.version)
        )
    )


def find_survey(session: Session, *, reference: str) -> Survey:
    """A survey by code or numeric id (the CLI takes either)."""
    survey = session.scalars(select(Survey).where(Survey.code == reference)).one_or_none()
    if survey is None and reference.isdigit():
        survey = session.get(Survey, int(reference))
    if survey is None:
        raise NotFoundError("survey", repr(reference))
    return survey
