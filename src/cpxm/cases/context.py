"""What a case is about, for the case page: the answers that opened it and what came before.

"Response 8976 scored NPS 2" told the person working the case nothing they could act on. The case
page now shows the survey response with every answer (question wording, not codes) and its
comment, when and through which channel it came, and the interaction that triggered the survey
(who met the person, in which department, about what). Everything passes the record shields of
:mod:`cpxm.access` first: words the role may not read stay withheld, patients stay pseudonymous.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import Principal, shield_interactions, shield_responses
from cpxm.cases.models import Case
from cpxm.interactions.models import Interaction
from cpxm.interactions.schemas import InteractionOut, interaction_out
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Invitation, Response, Survey
from cpxm.surveys.schemas import response_detail_out
from cpxm.surveys.service import get_response


@dataclass(frozen=True)
class AnswerLine:
    question: str
    answer: str | None
    withheld: bool


@dataclass(frozen=True)
class ResponseContext:
    response_id: int
    survey_name: str
    submitted_at: datetime | None
    channel: str | None
    language: str | None
    answers: list[AnswerLine]


@dataclass(frozen=True)
class CaseContext:
    response: ResponseContext | None
    trigger: InteractionOut | None
    trigger_employee: str | None


def case_context(session: Session, principal: Principal, case: Case) -> CaseContext:
    """The response behind ``case`` and the interaction that triggered its survey, shielded."""
    if case.response_id is None:
        return CaseContext(response=None, trigger=None, trigger_employee=None)
    found = get_response(session, response_id=case.response_id)
    response = found.response
    survey = session.get(Survey, response.survey_id)
    detail = shield_responses(
        session,
        principal,
        [response_detail_out(response, answers=found.answers)],
        via="case page",
    )[0]
    prompts = {question.id: question.prompt or question.code for _answer, question in found.answers}
    lines = [
        AnswerLine(
            question=prompts.get(answer.question_id, answer.question_code),
            answer=_shown_value(answer.value_number, answer.value_text, answer.value_choices),
            withheld=answer.text_withheld,
        )
        for answer in detail.answers
    ]
    trigger, employee = _trigger(session, principal, response)
    return CaseContext(
        response=ResponseContext(
            response_id=response.id,
            survey_name=survey.name if survey is not None else f"survey {response.survey_id}",
            submitted_at=response.submitted_at,
            channel=response.channel_code,
            language=response.language,
            answers=lines,
        ),
        trigger=trigger,
        trigger_employee=employee,
    )


def _trigger(
    session: Session, principal: Principal, response: Response
) -> tuple[InteractionOut | None, str | None]:
    if response.invitation_id is None:
        return None, None
    interaction_id = session.scalar(
        select(Invitation.trigger_interaction_id).where(Invitation.id == response.invitation_id)
    )
    interaction = session.get(Interaction, interaction_id) if interaction_id else None
    if interaction is None:
        return None, None
    shown = shield_interactions(
        session, principal, [interaction_out(interaction)], via="case page"
    )[0]
    employee = (
        session.scalar(
            select(Stakeholder.display_name).where(Stakeholder.id == interaction.employee_id)
        )
        if interaction.employee_id is not None
        else None
    )
    return shown, employee


def _shown_value(number: float | None, text: str | None, choices: list[str] | None) -> str | None:
    if number is not None:
        return f"{number:g}"
    if choices:
        return ", ".join(choices)
    return text


__all__ = ["CaseContext", "case_context"]
