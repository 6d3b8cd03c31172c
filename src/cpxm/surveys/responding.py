"""Answering a survey: resolve a respondent's link, check answers, save them, finish once.

Every respondent arrives through a token in ``/s/{token}``: a personal invitation, an anonymous
open link, or the resume token of an anonymous response already started. Answers are checked
against the version the respondent answers (scales, choices, lengths, display logic) and saved
page by page, so a respondent can stop and come back. Finishing is a conditional update, so a
double submit stores nothing twice. Free-text answers enter the feedback stream as they are saved
(an abandoned response may still mention an adverse event).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, func, insert, literal, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cpxm.db import Base
from cpxm.errors import DomainError
from cpxm.feedback import writer as feedback_writer
from cpxm.feedback.models import FeedbackItem
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.definition import (
    KANO_ANSWERS,
    QuestionDefinition,
    SurveyDefinition,
    kano_category,
    localise,
)
from cpxm.surveys.models import (
    Answer,
    Invitation,
    Question,
    Response,
    Survey,
    SurveyLink,
    SurveyVersion,
)
from cpxm.surveys.service import definition_text, parsed_definition

# Tokens are URL-safe random strings; anything else is refused before the store is asked.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
COMPANY_NAME = "CPXM"  # piped as {company}; a deployment names itself in the survey text instead

LinkState = Literal["open", "completed", "expired", "closed"]
NEEDS_ANSWER = "this question needs an answer"


class InvalidLink(DomainError):
    """A token that is malformed or names nothing: the link was mistyped, cut or tampered with."""

    status_code = 404

    def __init__(self) -> None:
        super().__init__("this survey link is not valid; check that it was copied completely")


class LinkNotOpen(DomainError):
    """The link is known but cannot take answers (finished, expired, or the survey closed)."""

    status_code = 410

    def __init__(self, state: LinkState) -> None:
        messages = {
            "completed": "this survey has already been answered with this link; thank you",
            "expired": "this survey link has expired",
            "closed": "this survey is closed",
        }
        super().__init__(messages.get(state, state))
        self.state = state


class AnswerErrors(DomainError):
    """Answers that cannot be stored; ``errors`` maps a question code to what is wrong."""

    status_code = 422

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(
            [
                {"type": "answer", "loc": ["body", "answers", code], "msg": message}
                for code, message in errors.items()
            ]
        )
        self.errors = errors


@dataclass(frozen=True)
class AnswerValue:
    number: float | None = None
    text: str | None = None
    choices: list[str] | None = None

    def as_condition_values(self) -> list[str | float]:
        if self.number is not None:
            return [self.number]
        if self.choices is not None:
            return list(self.choices)
        return [self.text] if self.text is not None else []


@dataclass
class Respondent:
    """Who is answering what, through which link, in which language."""

    token: str
    survey: Survey
    definition: SurveyDefinition
    version: int
    state: LinkState
    language: str
    invitation: Invitation | None = None
    link: SurveyLink | None = None
    response: Response | None = None
    names: dict[str, str] = field(default_factory=dict)
    # Whether the resume key given with an open link already started a response.
    resumes: bool = False
    # The definition as stored (an open link's current version), for callers that keep it.
    definition_text: str | None = None

    def text(self, value: Any) -> str:
        return localise(value, self.language, self.definition.default_language)


def reserve_for_writing(session: Session) -> None:
    """On SQLite, take the write lock before the first read of a transaction that will write.

    SQLite's WAL lets a read transaction become a write only if nobody committed since it read;
    otherwise it fails at once with "database is locked" (no waiting). A first statement that
    writes nothing but needs the lock makes the transaction a writer from its start, whatever
    kind of session it is in; within a process writers queue on ``cpxm.db``'s lock.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE fatigue_rules SET id = id WHERE 1 = 0"))


def new_token() -> str:
    """128 bits of randomness, URL-safe: unguessable, and short enough for an SMS."""
    return secrets.token_urlsafe(16)


def open_respondent(
    session: Session,
    *,
    token: str,
    now: datetime,
    language: str | None = None,
    resume_key: str | None = None,
) -> Respondent:
    """Resolve ``token``; raises InvalidLink for anything that is not a live token of ours.

    Each kind of token is resolved in one query with its survey and the definition its
    respondent answers (a personal link also with its response and stakeholder). With
    ``resume_key`` (an open link's respondent key), ``resumes`` tells whether that key already
    started a response, in the same query.
    """
    if not TOKEN_PATTERN.match(token):
        raise InvalidLink()
    found = session.execute(
        select(Invitation, Survey, Response, Stakeholder, definition_text())
        .join(Survey, Survey.id == Invitation.survey_id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .outerjoin(Stakeholder, Stakeholder.id == Invitation.stakeholder_id)
        .join(
            SurveyVersion,
            (SurveyVersion.survey_id == Invitation.survey_id)
            & (SurveyVersion.version == func.coalesce(Response.survey_version, Survey.version)),
        )
        .where(Invitation.token == token)
    ).first()
    if found is not None:
        invitation, survey, response, stakeholder, stored = found
        return _from_invitation(
            token, invitation, survey, response, stakeholder, stored, now, language
        )
    key_taken = (
        select(Response.id).where(Response.resume_token == resume_key).exists()
        if resume_key
        else literal(False)
    )
    from_link = session.execute(
        select(SurveyLink, Survey, definition_text(), key_taken)
        .join(Survey, Survey.id == SurveyLink.survey_id)
        .join(
            SurveyVersion,
            (SurveyVersion.survey_id == Survey.id) & (SurveyVersion.version == Survey.version),
        )
        .where(SurveyLink.token == token)
    ).first()
    if from_link is not None:
        link, survey, stored, resumes = from_link
        state = _link_state(survey, link.expires_at, link.closed_at, now)
        respondent = _respondent(
            token, survey, parsed_definition(stored), survey.version, state, language, link=link
        )
        respondent.resumes = bool(resumes)
        respondent.definition_text = stored
        return respondent
    resumed = session.execute(
        select(Response, Survey, SurveyLink, definition_text())
        .join(Survey, Survey.id == Response.survey_id)
        .outerjoin(SurveyLink, SurveyLink.id == Response.open_link_id)
        .join(
            SurveyVersion,
            (SurveyVersion.survey_id == Response.survey_id)
            & (SurveyVersion.version == Response.survey_version),
        )
        .where(Response.resume_token == token)
    ).first()
    if resumed is None:
        raise InvalidLink()
    response, survey, link, stored = resumed
    state = (
        "completed"
        if response.status == "complete"
        else _link_state(survey, link.expires_at if link else None, None, now)
    )
    return _respondent(
        token,
        survey,
        parsed_definition(stored),
        response.survey_version,
        state,
        language or response.language,
        link=link,
        response=response,
    )


def _from_invitation(
    token: str,
    invitation: Invitation,
    survey: Survey,
    response: Response | None,
    stakeholder: Stakeholder | None,
    stored: str,
    now: datetime,
    language: str | None,
) -> Respondent:
    if response is not None and response.status == "complete":
        state: LinkState = "completed"
    else:
        state = _link_state(survey, invitation.expires_at, None, now)
    preferred = language or (response.language if response else None) or invitation.language
    if preferred is None and stakeholder is not None:
        preferred = stakeholder.language
    names = {}
    if stakeholder is not None:
        names = {
            "first_name": stakeholder.first_name or "",
            "last_name": stakeholder.last_name or "",
            "display_name": stakeholder.display_name,
        }
    return _respondent(
        token,
        survey,
        parsed_definition(stored),
        response.survey_version if response else survey.version,
        state,
        preferred,
        invitation=invitation,
        response=response,
        names=names,
    )


def _link_state(
    survey: Survey, expires_at: datetime | None, closed_at: datetime | None, now: datetime
) -> LinkState:
    if survey.status == "closed" or closed_at is not None:
        return "closed"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "open"


def _respondent(
    token: str,
    survey: Survey,
    definition: SurveyDefinition,
    version: int,
    state: LinkState,
    language: str | None,
    **links: Any,
) -> Respondent:
    languages = definition.all_languages()
    chosen = language if language in languages else None
    if chosen is None and language:
        chosen = next((x for x in languages if x == language.split("-")[0]), None)
    respondent = Respondent(
        token=token,
        survey=survey,
        definition=definition,
        version=version,
        state=state,
        language=chosen or definition.default_language,
        **links,
    )
    respondent.names.update(
        {
            "survey_name": respondent.text(definition.name),
            "company": COMPANY_NAME,
        }
    )
    return respondent


def saved_answers(session: Session, *, respondent: Respondent) -> dict[str, AnswerValue]:
    """The answers saved so far, by question code."""
    if respondent.response is None:
        return {}
    rows = session.execute(
        select(Question.code, Answer.value_number, Answer.value_text, Answer.value_choices)
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.response_id == respondent.response.id)
    )
    return {
        code: AnswerValue(number=number, text=text, choices=choices)
        for code, number, text, choices in rows
    }


def is_visible(question: QuestionDefinition, answers: Mapping[str, AnswerValue]) -> bool:
    """Whether display logic shows ``question`` given the answers so far."""
    condition = question.show_if
    if condition is None:
        return True
    answer = answers.get(condition.question)
    if answer is None:
        return False
    values = answer.as_condition_values()
    if condition.equals is not None and not any(_same(v, condition.equals) for v in values):
        return False
    if condition.any_of is not None and not any(
        _same(v, wanted) for v in values for wanted in condition.any_of
    ):
        return False
    numbers = [v for v in values if isinstance(v, float)]
    if condition.min is not None and not any(n >= condition.min for n in numbers):
        return False
    return condition.max is None or any(n <= condition.max for n in numbers)


def _same(value: str | float, wanted: str | float) -> bool:
    if isinstance(value, float):
        try:
            return value == float(wanted)
        except ValueError:
            return False
    return value == str(wanted)


def field_name(code: str, part: str | None = None) -> str:
    """The form field of a question (or of one part of it: a matrix row, a Kano half)."""
    return f"q_{code}" if part is None else f"q_{code}__{part}"


def parse_answers(
    questions: list[QuestionDefinition],
    fields: Mapping[str, list[str]],
    *,
    known_codes: set[str],
) -> tuple[dict[str, AnswerValue], set[str], dict[str, str]]:
    """Check the submitted fields of ``questions``.

    Returns (answers given, questions left empty, errors by question code). A field that names
    no question of the survey is an error, not silently dropped.
    """
    errors: dict[str, str] = {}
    asked = {question.code for question in questions}
    for name in fields:
        if not name.startswith("q_"):
            continue
        code = name[2:].split("__", 1)[0]
        if code not in asked:
            where = "on this page" if code in known_codes else "in this survey"
            errors[code] = f"unknown question id '{code}': there is no such question {where}"
    answers: dict[str, AnswerValue] = {}
    empty: set[str] = set()
    for question in questions:
        try:
            value = _parse_one(question, fields)
        except ValueError as error:
            errors[question.code] = str(error)
            continue
        if value is None:
            empty.add(question.code)
        else:
            answers[question.code] = value
    return answers, empty, errors


def _values(fields: Mapping[str, list[str]], name: str) -> list[str]:
    return [value.strip() for value in fields.get(name, []) if value.strip()]


def _one(fields: Mapping[str, list[str]], name: str) -> str | None:
    values = _values(fields, name)
    if len(values) > 1:
        raise ValueError("give one answer, not several")
    return values[0] if values else None


def _parse_one(question: QuestionDefinition, fields: Mapping[str, list[str]]) -> AnswerValue | None:
    name = field_name(question.code)
    kind = question.type
    if kind in ("nps", "csat", "ces", "rating"):
        raw = _one(fields, name)
        return None if raw is None else AnswerValue(number=_scale_value(question, raw))
    if kind in ("single_choice", "prem"):
        raw = _one(fields, name)
        return None if raw is None else AnswerValue(text=_choice(question, raw))
    if kind == "multiple_choice":
        picked = _values(fields, name)
        if not picked:
            return None
        if len(set(picked)) != len(picked):
            raise ValueError("each choice can be picked once")
        return AnswerValue(choices=[_choice(question, value) for value in picked])
    if kind == "text":
        values = fields.get(name, [])
        if len(values) > 1:
            raise ValueError("give one answer, not several")
        text = _clean_text(values[0]) if values else ""
        if not text:
            return None
        if len(text) > question.max_length:
            raise ValueError(
                f"this answer is {len(text)} characters long; please keep it to "
                f"{question.max_length} characters"
            )
        return AnswerValue(text=text)
    if kind == "matrix":
        rows = question.rows or []
        given = {row.value: _one(fields, field_name(question.code, row.value)) for row in rows}
        answered = {row: raw for row, raw in given.items() if raw is not None}
        if not answered:
            return None
        if len(answered) != len(rows):
            missing = [row for row, raw in given.items() if raw is None]
            raise ValueError(f"please answer every row (missing: {', '.join(missing)})")
        return AnswerValue(
            choices=[f"{row}:{_scale_value(question, raw):g}" for row, raw in answered.items()]
        )
    # kano: both halves of the pair, each one of the five standard answers
    functional = _one(fields, field_name(question.code, "functional"))
    dysfunctional = _one(fields, field_name(question.code, "dysfunctional"))
    if functional is None and dysfunctional is None:
        return None
    if functional is None or dysfunctional is None:
        raise ValueError("please answer both parts of this question")
    for half in (functional, dysfunctional):
        if half not in KANO_ANSWERS:
            raise ValueError(f"'{half[:40]}' is not an answer here: {', '.join(KANO_ANSWERS)}")
    return AnswerValue(
        text=kano_category(functional, dysfunctional), choices=[functional, dysfunctional]
    )


def _scale_value(question: QuestionDefinition, raw: str) -> float:
    low, high = scale_of(question)
    try:
        number = int(raw)
    except ValueError:
        raise ValueError(f"'{raw[:40]}' is not a whole number from {low} to {high}") from None
    if not low <= number <= high:
        raise ValueError(f"{number} is outside the scale; choose from {low} to {high}")
    return float(number)


def scale_of(question: QuestionDefinition) -> tuple[int, int]:
    fixed = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}.get(question.type)
    if fixed is not None:
        return fixed
    return (question.min or 1, question.max or 5)


def _choice(question: QuestionDefinition, raw: str) -> str:
    values = [choice.value for choice in question.choices or []]
    if raw not in values:
        raise ValueError(f"'{raw[:40]}' is not one of the choices")
    return raw


def _clean_text(text: str) -> str:
    # NUL cannot be stored by PostgreSQL and never comes from a keyboard; newlines are normalised.
    return text.replace("\x00", "").replace("\r\n", "\n").strip()


def missing_required(
    questions: list[QuestionDefinition], answers: Mapping[str, AnswerValue]
) -> dict[str, str]:
    """Required questions that display logic shows and that have no answer yet."""
    return {
        question.code: NEEDS_ANSWER
        for question in questions
        if question.required and question.code not in answers and is_visible(question, answers)
    }


def save_answers(
    session: Session,
    *,
    respondent: Respondent,
    answers: Mapping[str, AnswerValue],
    cleared: set[str],
    now: datetime,
    resume_token: str | None = None,
) -> Response:
    """Save (or replace) answers on the respondent's response, creating it if needed."""
    if respondent.state != "open":
        raise LinkNotOpen(respondent.state)
    response = respondent.response or _start_response(session, respondent, now, resume_token)
    respondent.response = response
    question_ids = _question_ids(session, respondent.survey.id)
    stored = {
        answer.question_id: answer
        for answer in session.scalars(select(Answer).where(Answer.response_id == response.id))
    }
    removed = [stored[question_ids[c]].id for c in cleared if question_ids.get(c) in stored]
    if removed:
        # A comment once said stays in the feedback stream, detached from its removed answer.
        session.execute(
            update(FeedbackItem).where(FeedbackItem.answer_id.in_(removed)).values(answer_id=None)
        )
        session.execute(delete(Answer).where(Answer.id.in_(removed)))
    texts: list[Answer] = []
    for code, value in answers.items():
        answer = stored.get(question_ids[code])
        if answer is None:
            answer = Answer(response_id=response.id, question_id=question_ids[code])
            session.add(answer)
        answer.value_number = value.number
        answer.value_text = value.text
        answer.value_choices = value.choices
        if _is_free_text(respondent.definition, code):
            texts.append(answer)
    response.updated_at = now
    response.language = respondent.language
    session.flush()
    _feed_comments(session, response, texts, now)
    return response


def _start_response(
    session: Session, respondent: Respondent, now: datetime, resume_token: str | None
) -> Response:
    invitation = respondent.invitation
    response = Response(
        survey_id=respondent.survey.id,
        survey_version=respondent.version,
        invitation_id=invitation.id if invitation else None,
        stakeholder_id=invitation.stakeholder_id if invitation else None,
        channel_code=(
            invitation.channel_code
            if invitation
            else (respondent.link.channel_code if respondent.link else None)
        ),
        open_link_id=respondent.link.id if respondent.link and not invitation else None,
        resume_token=None if invitation else (resume_token or new_token()),
        language=respondent.language,
        status="partial",
        started_at=now,
        updated_at=now,
    )
    try:
        # A savepoint, so a concurrent start of the same response (double click, two tabs)
        # fails alone and the caller is told, instead of the whole transaction failing.
        with session.begin_nested():
            session.add(response)
    except IntegrityError:
        raise LinkNotOpen("completed") from None
    if invitation is not None and invitation.status != "completed":
        invitation.status = "started"
    return response


def _question_ids(session: Session, survey_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Question.code, Question.id).where(Question.survey_id == survey_id)
    )
    return {code: question_id for code, question_id in rows}


def _is_free_text(definition: SurveyDefinition, code: str) -> bool:
    return any(q.code == code and q.type == "text" for _page, q in definition.questions())


def _feed_comments(
    session: Session, response: Response, answers: list[Answer], now: datetime
) -> None:
    """Each free-text answer is one feedback item, kept in step with the answer's words."""
    feedback_writer.write_comments(
        session, [(response, answer) for answer in answers], received_at=now
    )


def complete_response(session: Session, *, respondent: Respondent, now: datetime) -> bool:
    """Mark the response complete; False when it already was (a double submit stores nothing)."""
    response = respondent.response
    if response is None:
        raise AnswerErrors({"": "there are no answers to submit yet"})
    finished = session.execute(
        update(Response)
        .where(Response.id == response.id, Response.status == "partial")
        .values(status="complete", submitted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if finished.rowcount == 0:  # type: ignore[attr-defined]
        return False
    response.status = "complete"
    response.submitted_at = now
    if respondent.invitation is not None:
        respondent.invitation.status = "completed"
    respondent.state = "completed"
    session.flush()
    return True


@dataclass(frozen=True)
class Submitted:
    response_id: int
    status: str
    stored: bool  # False: a repeated submit, nothing stored twice


def submit_response(
    session: Session,
    *,
    respondent: Respondent,
    fields: Mapping[str, list[str]],
    now: datetime,
    resume_token: str | None = None,
) -> Submitted:
    """Check and store a whole response in one call (the JSON path, and the demo's answers).

    Answers already saved on earlier pages count; every required, visible question must be
    answered by the end.
    """
    if respondent.state == "completed" and respondent.response is not None:
        return Submitted(respondent.response.id, respondent.response.status, stored=False)
    answers = check_response(session, respondent=respondent, fields=fields)
    return store_response(
        session, respondent=respondent, answers=answers, now=now, resume_token=resume_token
    )


def check_response(
    session: Session, *, respondent: Respondent, fields: Mapping[str, list[str]]
) -> dict[str, AnswerValue]:
    """The answers of a whole response to store (those display logic shows), or AnswerErrors.

    Only reads: a caller on SQLite may end its read transaction here and take the write lock
    for :func:`store_response` alone, so checks never hold up other writers.
    """
    if respondent.state != "open":
        raise LinkNotOpen(respondent.state)
    return check_answers(
        respondent.definition, fields, saved=saved_answers(session, respondent=respondent)
    )


def check_answers(
    definition: SurveyDefinition,
    fields: Mapping[str, list[str]],
    *,
    saved: Mapping[str, AnswerValue] | None = None,
) -> dict[str, AnswerValue]:
    """The answers in ``fields`` to store as a whole response to ``definition``, given the
    answers ``saved`` before: those display logic shows; AnswerErrors for any fault."""
    questions = [question for _page, question in definition.questions()]
    known = {question.code for question in questions}
    answers, _empty, errors = parse_answers(questions, fields, known_codes=known)
    if errors:
        raise AnswerErrors(errors)
    everything = {**(saved or {}), **answers}
    missing = missing_required(questions, everything)
    if missing:
        raise AnswerErrors(missing)
    shown = {question.code for question in questions if is_visible(question, everything)}
    return {code: value for code, value in answers.items() if code in shown}


def store_response(
    session: Session,
    *,
    respondent: Respondent,
    answers: Mapping[str, AnswerValue],
    now: datetime,
    resume_token: str | None = None,
) -> Submitted:
    """Store answers checked by :func:`check_response` and complete the response, once."""
    if respondent.state != "open":
        raise LinkNotOpen(respondent.state)
    if respondent.response is None:
        return _insert_whole_response(session, respondent, answers, now, resume_token)
    response = save_answers(session, respondent=respondent, answers=answers, cleared=set(), now=now)
    stored = complete_response(session, respondent=respondent, now=now)
    return Submitted(response.id, response.status, stored)


def _insert_whole_response(
    session: Session,
    respondent: Respondent,
    answers: Mapping[str, AnswerValue],
    now: datetime,
    resume_token: str | None,
) -> Submitted:
    """A new, complete response in a few set-based statements (the hot path of a survey wave).

    The response row is inserted with ON CONFLICT DO NOTHING: when a concurrent submit of the
    same invitation or resume key got there first, nothing is stored and the caller is told.
    """
    invitation, link = respondent.invitation, respondent.link
    values = {
        "survey_id": respondent.survey.id,
        "survey_version": respondent.version,
        "invitation_id": invitation.id if invitation else None,
        "stakeholder_id": invitation.stakeholder_id if invitation else None,
        "channel_code": invitation.channel_code
        if invitation
        else (link.channel_code if link else None),
        "open_link_id": link.id if link and not invitation else None,
        "resume_token": None if invitation else (resume_token or new_token()),
        "language": respondent.language,
        "status": "complete",
        "started_at": now,
        "submitted_at": now,
        "updated_at": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        response_id, stored = _write_postgresql(session, values, answers)
    else:
        response_id, stored = _write_sqlite(session, respondent, values, answers)
    if response_id is None:
        key = (
            Response.invitation_id == invitation.id
            if invitation
            else Response.resume_token == values["resume_token"]
        )
        earlier = session.execute(select(Response.id, Response.status).where(key)).one()
        return Submitted(earlier.id, earlier.status, stored=False)
    comments = [
        {
            "source_kind": "survey_comment",
            "text": text_value or "",
            "stakeholder_id": values["stakeholder_id"],
            "received_at": now,
            "channel_code": values["channel_code"],
            "language": respondent.language,
            "response_id": response_id,
            "answer_id": answer_id,
        }
        for answer_id, text_value, is_comment in stored
        if is_comment
    ]
    # Through the one feedback writer, which queues the comments' screening for the commit.
    feedback_writer.insert_rows(session, comments)
    if invitation is not None:
        invitation.status = "completed"
    respondent.state = "completed"
    return Submitted(response_id, "complete", stored=True)


# (answer id, its text, whether it is a free-text comment) of each answer written
StoredAnswers = list[tuple[int, str | None, bool]]

# The response and its answers in one round trip: answers are matched to their questions by
# code in the database, so nothing needs to be looked up first. ON CONFLICT DO NOTHING makes a
# concurrent first submit of the same invitation or resume key store nothing (no row returned).
_WRITE_POSTGRESQL = text(
    """
WITH new_response AS (
    INSERT INTO responses (survey_id, survey_version, invitation_id, stakeholder_id,
        channel_code, open_link_id, resume_token, language, status, started_at, submitted_at,
        updated_at)
    VALUES (:survey_id, :survey_version, :invitation_id, :stakeholder_id, :channel_code,
        :open_link_id, :resume_token, :language, :status, :started_at, :submitted_at,
        :updated_at)
    ON CONFLICT DO NOTHING
    RETURNING id
), new_answers AS (
    INSERT INTO answers (response_id, question_id, value_number, value_text, value_choices)
    SELECT new_response.id, questions.id, given.value_number, given.value_text,
        given.value_choices
    FROM new_response
    CROSS JOIN json_to_recordset(CAST(:answers AS json)) AS given(
        code text, value_number float8, value_text text, value_choices json)
    JOIN questions ON questions.survey_id = :survey_id AND questions.code = given.code
    RETURNING id, question_id, value_text
)
SELECT new_response.id, new_answers.id, new_answers.value_text,
    questions.question_type = 'text'
FROM new_response
LEFT JOIN new_answers ON true
LEFT JOIN questions ON questions.id = new_answers.question_id
"""
)


def _write_postgresql(
    session: Session, values: Mapping[str, Any], answers: Mapping[str, AnswerValue]
) -> tuple[int | None, StoredAnswers]:
    given = [
        {
            "code": code,
            "value_number": value.number,
            "value_text": value.text,
            "value_choices": value.choices,
        }
        for code, value in answers.items()
    ]
    rows = session.execute(_WRITE_POSTGRESQL, {**values, "answers": json.dumps(given)}).all()
    if not rows:
        return None, []
    stored = [
        (answer_id, text, bool(comment)) for _r, answer_id, text, comment in rows if answer_id
    ]
    return rows[0][0], stored


def _write_sqlite(
    session: Session,
    respondent: Respondent,
    values: Mapping[str, Any],
    answers: Mapping[str, AnswerValue],
) -> tuple[int | None, StoredAnswers]:
    # In-process statements cost no round trip: the plain set-based inserts are as fast here.
    responses = Base.metadata.tables["responses"]
    response_id = session.execute(
        sqlite_insert(responses).values(**values).on_conflict_do_nothing().returning(responses.c.id)
    ).scalar_one_or_none()
    if response_id is None or not answers:
        return response_id, []
    question_ids = _question_ids(session, respondent.survey.id)
    texts = {q.code for _page, q in respondent.definition.questions() if q.type == "text"}
    comment_questions = {question_ids[code] for code in answers if code in texts}
    answers_table = Base.metadata.tables["answers"]
    stored = session.execute(
        insert(answers_table).returning(
            answers_table.c.id,
            answers_table.c.question_id,
            answers_table.c.value_text,
            sort_by_parameter_order=True,
        ),
        [
            {
                "response_id": response_id,
                "question_id": question_ids[code],
                "value_number": value.number,
                "value_text": value.text,
                "value_choices": value.choices,
            }
            for code, value in answers.items()
        ],
    ).all()
    return response_id, [
        (answer_id, text_value, question_id in comment_questions)
        for answer_id, question_id, text_value in stored
    ]


def mark_opened(respondent: Respondent, *, now: datetime) -> None:
    """Note the first time a personal link was opened (reminders skip people who opened it)."""
    if respondent.invitation is not None and respondent.invitation.opened_at is None:
        respondent.invitation.opened_at = now
