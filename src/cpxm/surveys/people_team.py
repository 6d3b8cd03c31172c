"""The people team's routes for confidential surveys (``/api/v1/pulse``).

The people team (role ``hr_partner``) reminds employees who have not answered the pulse, so it
sees who was invited and whether they answered, never what. Where an admin's policy allows it
(``PUT /api/v1/pulse/settings``, default ``never``) it may also read answers with the person,
each read audited. Everyone else meets a confidential survey only as figures over groups
(``/api/v1/analytics/ex``). Rules: :mod:`cpxm.access.confidential`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.access import audit, cells
from cpxm.access.confidential import (
    ConfidentialAnswers,
    identity_policy,
    links_answers,
    set_identity_policy,
)
from cpxm.access.policy import Administrator, PeopleTeam
from cpxm.deps import DbSession
from cpxm.errors import DomainError, NotFoundError
from cpxm.pagination import Page, Pagination
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Answer, Invitation, Question, Response, Survey
from cpxm.workspace.models import Team

router = APIRouter(prefix="/pulse", tags=["employee experience"])


class NotConfidential(DomainError):
    status_code = 422


class PulseSettings(BaseModel):
    identity: Literal["never", "people_team"]
    min_cell_size: int  # set by an admin at PUT /api/v1/privacy/settings


class InvitationStatus(BaseModel):
    invitation_id: int
    stakeholder_id: int
    name: str
    team: str | None
    wave: str | None
    sent_at: datetime | None
    answered: bool
    expired: bool
    reminders_sent: int


class LinkedResponse(BaseModel):
    response_id: int
    stakeholder_id: int | None
    name: str | None
    wave: str | None
    submitted_at: datetime | None
    answers: dict[str, Any]


def _confidential_survey(session: Session, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFoundError("survey", survey_id)
    if not survey.confidential:
        raise NotConfidential(
            f"survey '{survey.code}' is not confidential: its responses are at /api/v1/responses"
        )
    return survey


@router.get("/settings")
def get_pulse_settings(session: DbSession, principal: Administrator) -> PulseSettings:
    """Whether the people team may link confidential answers to people (default never)."""
    return PulseSettings(
        identity=identity_policy(session),
        min_cell_size=cells.min_cell_size(session),
    )


class PulseSettingsIn(BaseModel):
    identity: Literal["never", "people_team"]


@router.put("/settings")
def put_pulse_settings(
    session: DbSession, principal: Administrator, settings: PulseSettingsIn
) -> PulseSettings:
    """Change the policy (admin); the change is in the audit log with who and why."""
    value = set_identity_policy(session, value=settings.identity, user_id=principal.user_id)
    return PulseSettings(
        identity=value,
        min_cell_size=cells.min_cell_size(session),
    )


@router.get("/surveys/{survey_id}/invitations")
def list_invitation_status(
    session: DbSession,
    principal: PeopleTeam,
    survey_id: int,
    page: Pagination,
    wave: str | None = None,
    answered: bool | None = None,
) -> Page[InvitationStatus]:
    """Who was invited to a confidential survey and whether they answered, to send reminders;
    never what they answered."""
    survey = _confidential_survey(session, survey_id)
    conditions: list[Any] = [Invitation.survey_id == survey.id]
    if wave is not None:
        conditions.append(Invitation.wave == wave)
    if answered is not None:
        done = Invitation.status == "completed"
        conditions.append(done if answered else ~done)
    total = session.scalar(select(func.count(Invitation.id)).where(*conditions)) or 0
    rows = session.execute(
        select(Invitation, Stakeholder.display_name, Team.name)
        .join(Stakeholder, Stakeholder.id == Invitation.stakeholder_id)
        .outerjoin(Team, Team.id == Stakeholder.team_id)
        .where(*conditions)
        .order_by(Invitation.sent_at.desc(), Invitation.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    items = [
        InvitationStatus(
            invitation_id=invitation.id,
            stakeholder_id=invitation.stakeholder_id,
            name=name,
            team=team,
            wave=invitation.wave,
            sent_at=invitation.sent_at,
            answered=invitation.status == "completed",
            expired=invitation.status == "expired",
            reminders_sent=invitation.reminders_sent,
        )
        for invitation, name, team in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/surveys/{survey_id}/responses")
def list_linked_responses(
    session: DbSession, principal: PeopleTeam, survey_id: int, page: Pagination
) -> Page[LinkedResponse]:
    """A confidential survey's answers with the person, only where the workspace's policy lets
    the people team link them (``PUT /api/v1/pulse/settings``); every read is audited."""
    survey = _confidential_survey(session, survey_id)
    if not links_answers(session, principal):
        raise ConfidentialAnswers(survey.code, "answers", cells.min_cell_size(session))
    total = (
        session.scalar(select(func.count(Response.id)).where(Response.survey_id == survey.id)) or 0
    )
    rows = session.execute(
        select(Response, Stakeholder.display_name, Invitation.wave)
        .outerjoin(Stakeholder, Stakeholder.id == Response.stakeholder_id)
        .outerjoin(Invitation, Invitation.id == Response.invitation_id)
        .where(Response.survey_id == survey.id)
        .order_by(Response.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    ids = [response.id for response, _name, _wave in rows]
    answers: dict[int, dict[str, Any]] = {i: {} for i in ids}
    if ids:
        for response_id, code, number, text in session.execute(
            select(Answer.response_id, Question.code, Answer.value_number, Answer.value_text)
            .join(Question, Question.id == Answer.question_id)
            .where(Answer.response_id.in_(ids))
        ):
            answers[response_id][code] = number if number is not None else text
    audit.record_read(
        session, principal, entity_type="responses", entity_ids=ids, purpose="pulse linked"
    )
    items = [
        LinkedResponse(
            response_id=response.id,
            stakeholder_id=response.stakeholder_id,
            name=name,
            wave=wave,
            submitted_at=response.submitted_at,
            answers=answers[response.id],
        )
        for response, name, wave in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
