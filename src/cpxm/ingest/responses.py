"""Survey responses exported from another survey tool: one row per response, a column per answer.

Answers are checked against the CPXM survey's questions and their scales (NPS 0-10, CSAT 1-5,
CES 1-7, a rating's own bounds, a choice question's choices). Free-text answers also enter the
feedback stream, linked to their response and answer, so they are analysed like any comment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.db import assign_ids, one_of
from cpxm.feedback import writer as feedback_writer
from cpxm.feedback.models import FeedbackItem
from cpxm.ingest.entities import PendingRow, by_id
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.raw import ReadError
from cpxm.ingest.references import References, stakeholder_of
from cpxm.ingest.rows import ConvertedRow, Reference, RowError
from cpxm.surveys.models import SCORE_SCALES, Answer, Question, Response, Survey

_SHOWN_CODES = 20


@dataclass(frozen=True)
class SurveyQuestions:
    survey: Survey
    questions: dict[str, Question]  # by code


@dataclass(frozen=True)
class TypedAnswer:
    question: Question
    number: float | None = None
    text: str | None = None
    choices: list[str] | None = None


def load_surveys(session: Session, rows: list[ConvertedRow]) -> dict[str, SurveyQuestions]:
    codes = {row.values["survey"] for row in rows if "survey" in row.values}
    if not codes:
        return {}
    surveys = list(session.scalars(select(Survey).where(one_of(session, Survey.code, codes))))
    questions: dict[int, dict[str, Question]] = {survey.id: {} for survey in surveys}
    if surveys:
        for question in session.scalars(
            select(Question).where(one_of(session, Question.survey_id, [s.id for s in surveys]))
        ):
            questions[question.survey_id][question.code] = question
    return {survey.code: SurveyQuestions(survey, questions[survey.id]) for survey in surveys}


def check_survey_mapping(session: Session, mapping: ImportMapping) -> None:
    """Fail before the first row when a mapping for one survey names a survey or question that
    does not exist, which would otherwise quarantine every row with the same reason."""
    spec = mapping.fields.get("survey")
    if mapping.target != "responses" or spec is None or spec.value is None:
        return
    code = str(spec.value)
    survey = session.scalars(select(Survey).where(Survey.code == code)).one_or_none()
    if survey is None:
        raise ReadError(
            f"the mapping '{mapping.name}' names survey '{code}', which does not exist in CPXM; "
            "create it with its questions first, or correct the survey code"
        )
    questions = set(session.scalars(select(Question.code).where(Question.survey_id == survey.id)))
    unknown = sorted(set(mapping.answers or {}) - questions)
    if unknown:
        raise ReadError(
            f"the mapping '{mapping.name}' maps answers to {', '.join(map(repr, unknown))}, "
            f"which survey '{code}' does not ask; its questions are: "
            f"{', '.join(sorted(questions)) or 'none'}"
        )


def typed_answers(
    mapping: ImportMapping, row: ConvertedRow, surveys: dict[str, SurveyQuestions]
) -> tuple[SurveyQuestions, list[TypedAnswer]]:
    """The row's survey and its non-empty answers, typed; RowError names the first fault."""
    code = row.values["survey"]
    found = surveys.get(code)
    if found is None:
        raise RowError(
            f"survey '{code}' does not exist in CPXM; create it with its questions first, "
            "or correct the survey code"
        )
    answers = []
    for question_code, text in row.values["answers"].items():
        question = found.questions.get(question_code)
        if question is None:
            known = sorted(found.questions)[:_SHOWN_CODES]
            raise RowError(
                f"the mapping's answer '{question_code}' is not a question of survey '{code}'; "
                f"its questions are: {', '.join(known) or 'none'}"
            )
        if text is None:
            continue
        spec = (mapping.answers or {})[question_code]
        where = "column " + " + ".join(f"'{c}'" for c in spec.columns) if spec.columns else code
        answers.append(_typed(question, text, where, spec.separator or ";"))
    return found, answers


def _typed(question: Question, text: str, where: str, separator: str) -> TypedAnswer:
    options: dict[str, Any] = question.options or {}
    choices = [str(choice) for choice in options.get("choices") or []]
    scale = SCORE_SCALES.get(question.question_type)
    if scale is None and "min" in options and "max" in options and not choices:
        scale = (options["min"], options["max"])
    if scale is not None:
        return TypedAnswer(question, number=_score(question, text, where, scale))
    if question.question_type == "multiple_choice":
        picked = [part.strip() for part in text.split(separator) if part.strip()]
        return TypedAnswer(question, choices=[_choice(question, p, where, choices) for p in picked])
    if choices:
        return TypedAnswer(question, text=_choice(question, text, where, choices))
    return TypedAnswer(question, text=text)


def _score(question: Question, text: str, where: str, scale: tuple[Any, Any]) -> float:
    low, high = scale
    expected = f"question '{question.code}' ({question.question_type}) is answered {low} to {high}"
    try:
        number = float(text.strip().replace(",", "."))
    except ValueError:
        raise RowError(
            f"{where} is '{text}', not a number; {expected}; map labels to numbers with 'values'"
        ) from None
    whole = question.question_type in SCORE_SCALES
    if not math.isfinite(number) or (whole and not number.is_integer()):
        raise RowError(f"{where} is '{text}'; {expected} in whole numbers")
    if not low <= number <= high:
        raise RowError(f"{where} is '{text}', but {expected}")
    return number


def _choice(question: Question, text: str, where: str, choices: list[str]) -> str:
    if not choices:
        return text
    folded = {choice.casefold(): choice for choice in choices}
    if text.casefold() not in folded:
        raise RowError(
            f"{where} is '{text}', not a choice of question '{question.code}': "
            f"{', '.join(choices)}; map it with the answer's 'values'"
        )
    return folded[text.casefold()]


def write_responses(
    session: Session,
    *,
    mapping: ImportMapping,
    pending: list[PendingRow],
    references: References,
    surveys: dict[str, SurveyQuestions],
) -> dict[str, int]:
    """Create or update each response with its answers; source id -> response id."""
    existing = by_id(session, Response, [p.entity_id for p in pending if p.entity_id])
    chosen: dict[str, tuple[Response, list[TypedAnswer]]] = {}
    for item in pending:
        found, answers = typed_answers(mapping, item.row, surveys)
        response = existing.get(item.entity_id) if item.entity_id else None
        response = response or Response()
        _fill_response(response, item.row.values, references, found.survey)
        chosen[item.row.source_id] = (response, answers)
    responses = [response for response, _ in chosen.values()]
    assign_ids(session, Response, [r for r in responses if r.id is None])
    session.add_all(responses)
    session.flush()
    _write_answers(session, list(chosen.values()))
    return {source_id: response.id for source_id, (response, _) in chosen.items()}


def _fill_response(
    response: Response, values: dict[str, Any], references: References, survey: Survey
) -> None:
    respondent: Reference | None = values.get("respondent")
    response.survey_id = survey.id
    response.survey_version = survey.version
    response.stakeholder_id = (
        stakeholder_of(respondent, references).stakeholder_id if respondent else None
    )
    response.channel_code = values.get("channel")
    response.language = values.get("language") or survey.default_language
    response.status = "complete"
    response.submitted_at = values["submitted_at"]
    response.started_at = values.get("started_at") or values["submitted_at"]


def _write_answers(session: Session, chosen: list[tuple[Response, list[TypedAnswer]]]) -> None:
    response_ids = [response.id for response, _ in chosen]
    stored: dict[tuple[int, int], Answer] = {
        (answer.response_id, answer.question_id): answer
        for answer in session.scalars(
            select(Answer).where(one_of(session, Answer.response_id, response_ids))
        )
    }
    feedback: dict[int, FeedbackItem] = {}
    if stored:
        feedback = {
            item.answer_id: item
            for item in session.scalars(
                select(FeedbackItem).where(
                    one_of(session, FeedbackItem.answer_id, [a.id for a in stored.values()])
                )
            )
            if item.answer_id is not None
        }
    kept: set[tuple[int, int]] = set()
    comments: list[tuple[Response, Answer]] = []
    new_answers: list[Answer] = []
    for response, answers in chosen:
        for typed in answers:
            key = (response.id, typed.question.id)
            kept.add(key)
            answer = stored.get(key)
            if answer is None:
                answer = Answer(response_id=response.id, question_id=typed.question.id)
                new_answers.append(answer)
            answer.value_number = typed.number
            answer.value_text = typed.text
            answer.value_choices = typed.choices
            if typed.question.question_type == "text":
                comments.append((response, answer))
    removed = [answer for key, answer in stored.items() if key not in kept]
    for answer in removed:
        # The comment was said and may already be in a case or a safety report: it stays in
        # the feedback stream, detached from the answer that no longer exists.
        if answer.id in feedback:
            feedback.pop(answer.id).answer_id = None
    session.flush()  # detach before deleting: the ORM does not know the foreign key's order
    for answer in removed:
        session.delete(answer)
    assign_ids(session, Answer, new_answers)
    session.add_all(new_answers)
    session.flush()
    feedback_writer.write_comments(session, comments, existing=feedback)
