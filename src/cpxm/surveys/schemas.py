"""What the API says about surveys and responses; the one place each becomes JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cpxm.surveys.models import Answer, Question, Response, Survey
from cpxm.timeutil import UtcDateTime


class SurveyOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    status: str
    version: int
    default_language: str
    audience: dict[str, Any] | None
    created_at: UtcDateTime
    confidential: bool = False  # answers only as figures over groups (cpxm.access.confidential)


class QuestionOut(BaseModel):
    id: int
    code: str
    position: int
    question_type: str
    prompt: str
    options: dict[str, Any] | None
    required: bool


class SurveyDetailOut(SurveyOut):
    questions: list[QuestionOut]


class ResponseOut(BaseModel):
    id: int
    survey_id: int
    survey_version: int
    invitation_id: int | None
    # Null, with ``stakeholder_key`` instead, for a patient a role may not see by name.
    stakeholder_id: int | None
    stakeholder_key: str | None = None
    channel: str | None
    language: str
    status: str
    started_at: UtcDateTime
    submitted_at: UtcDateTime | None


class AnswerOut(BaseModel):
    question_id: int
    question_code: str
    question_type: str
    value_number: float | None
    value_text: str | None
    value_choices: list[str] | None
    text_withheld: bool = False


class ResponseDetailOut(ResponseOut):
    answers: list[AnswerOut]


def survey_out(survey: Survey) -> SurveyOut:
    return SurveyOut(**_survey_fields(survey))


def survey_detail_out(survey: Survey, *, questions: list[Question]) -> SurveyDetailOut:
    return SurveyDetailOut(
        **_survey_fields(survey),
        questions=[
            QuestionOut(
                id=question.id,
                code=question.code,
                position=question.position,
                question_type=question.question_type,
                prompt=question.prompt,
                options=question.options,
                required=question.required,
            )
            for question in questions
        ],
    )


def response_out(response: Response) -> ResponseOut:
    return ResponseOut(**_response_fields(response))


def response_detail_out(
    response: Response, *, answers: list[tuple[Answer, Question]]
) -> ResponseDetailOut:
    """The response with its answers, each named by its question's code and type."""
    return ResponseDetailOut(
        **_response_fields(response),
        answers=[
            AnswerOut(
                question_id=question.id,
                question_code=question.code,
                question_type=question.question_type,
                value_number=answer.value_number,
                value_text=answer.value_text,
                value_choices=answer.value_choices,
            )
            for answer, question in answers
        ],
    )


def _survey_fields(survey: Survey) -> dict[str, Any]:
    return {
        "id": survey.id,
        "code": survey.code,
        "name": survey.name,
        "kind": survey.kind,
        "status": survey.status,
        "version": survey.version,
        "default_language": survey.default_language,
        "audience": survey.audience,
        "created_at": survey.created_at,
        "confidential": bool(survey.confidential),
    }


def _response_fields(response: Response) -> dict[str, Any]:
    return {
        "id": response.id,
        "survey_id": response.survey_id,
        "survey_version": response.survey_version,
        "invitation_id": response.invitation_id,
        "stakeholder_id": response.stakeholder_id,
        "channel": response.channel_code,
        "language": response.language,
        "status": response.status,
        "started_at": response.started_at,
        "submitted_at": response.submitted_at,
    }
