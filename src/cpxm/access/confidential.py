"""Confidential surveys (the employee pulse): who may link an answer to a person, decided here.

A survey marked ``confidential`` promises its respondents that nobody reads their answers one by
one: outside the people team (role ``hr_partner``) no route returns a confidential answer, its
respondent or its comment as a record, and the people team itself sees only who was invited and
whether they answered (to send reminders) unless the workspace's policy, set by an admin, allows
it to link answers to people (``PUT /api/v1/ex/settings``; default ``never``). Everyone else sees
the survey as figures over groups of at least the workspace's minimum cell size
(:mod:`cpxm.access.cells`), computed by :mod:`cpxm.analytics.ex`.

Record-level routes ask :func:`hidden_survey_ids` which surveys' answers to leave out for the
principal, and :func:`refuse_records` when a request names one directly.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cpxm.access.cells import min_cell_size
from cpxm.access.principal import Principal
from cpxm.access.roles import Role
from cpxm.errors import DomainError, FieldError, field_error
from cpxm.surveys.models import Question, Response, Survey
from cpxm.workspace.settings import get_setting, set_setting

IDENTITY_SETTING = "confidential_identity"
# "never": nobody links a confidential answer to a person (invitation status only, for
# reminders); "people_team": the hr_partner role may, every read audited.
IDENTITY_POLICIES = ("never", "people_team")
DEFAULT_IDENTITY_POLICY = "never"
PEOPLE_TEAM_ROLES = frozenset({Role.HR_PARTNER})


class ConfidentialAnswers(DomainError):
    """A request for a confidential survey's answers as records."""

    status_code = 403

    def __init__(self, survey_code: str, what: str, min_cell: int | None = None) -> None:
        groups = f" of at least {min_cell}" if min_cell else ""
        super().__init__(
            f"survey '{survey_code}' is confidential: its {what} are shown only as figures over "
            f"groups{groups} people (GET /api/v1/analytics/ex), never one person's answers"
        )


def identity_policy(session: Session) -> str:
    """The workspace's policy on linking confidential answers to people (default ``never``)."""
    stored = get_setting(session, IDENTITY_SETTING)
    return stored if stored in IDENTITY_POLICIES else DEFAULT_IDENTITY_POLICY


def set_identity_policy(session: Session, *, value: str, user_id: int | None) -> str:
    if value not in IDENTITY_POLICIES:
        raise FieldError(
            [
                field_error(
                    "identity",
                    f"identity is '{value}', expected one of {', '.join(IDENTITY_POLICIES)}",
                    value,
                )
            ]
        )
    set_setting(session, name=IDENTITY_SETTING, value=value, user_id=user_id)
    return value


def links_answers(session: Session, principal: Principal) -> bool:
    """Whether ``principal`` may see a confidential answer with the person who gave it."""
    return principal.role in PEOPLE_TEAM_ROLES and identity_policy(session) == "people_team"


def confidential_survey_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Survey.id).where(Survey.confidential.is_(True))))


def hidden_survey_ids(session: Session, principal: Principal) -> list[int]:
    """The surveys whose answers ``principal`` may not see as records (every confidential one,
    unless the policy lets this principal link answers to people)."""
    return [] if links_answers(session, principal) else confidential_survey_ids(session)


def survey_of_response(session: Session, response_id: int) -> Survey | None:
    return session.scalar(
        select(Survey)
        .join(Response, Response.survey_id == Survey.id)
        .where(Response.id == response_id)
    )


def refuse_records(session: Session, principal: Principal, survey: Survey, *, what: str) -> None:
    """Raise :class:`ConfidentialAnswers` when ``survey``'s ``what`` (responses, comments,
    export) are asked for as records by a principal who may not see them."""
    if survey.confidential and not links_answers(session, principal):
        raise ConfidentialAnswers(survey.code, what, min_cell_size(session))


def refuse_confidential_figures(
    session: Session, *, survey_codes: list[str], question_id: int | None
) -> None:
    """General analytics (metrics, drivers, drill-downs) take any slice and date range, so two
    of their figures could be subtracted to recover one person's answer: a confidential survey
    is computed only by :mod:`cpxm.analytics.ex`, over fixed groups (team x wave)."""
    conditions = []
    if survey_codes:
        conditions.append(Survey.code.in_(survey_codes))
    if question_id is not None:
        conditions.append(
            Survey.id.in_(select(Question.survey_id).where(Question.id == question_id))
        )
    if not conditions:
        return
    found = session.scalar(
        select(Survey.code).where(Survey.confidential.is_(True), or_(*conditions)).limit(1)
    )
    if found is not None:
        raise ConfidentialAnswers(found, "answers", min_cell_size(session))
