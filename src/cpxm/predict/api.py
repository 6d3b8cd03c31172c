"""JSON endpoints of prediction under ``/api/v1/predictions``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cpxm.access import CASE_WORK, COMMERCIAL_DATA, CaseWorker, CommercialReader, requires
from cpxm.deps import DbSession
from cpxm.predict import outreach
from cpxm.predict.models import OutreachAction
from cpxm.predict.service import at_risk_stakeholders
from cpxm.timeutil import as_aware_utc

router = APIRouter(
    prefix="/predictions", tags=["predictions"], dependencies=[requires(COMMERCIAL_DATA)]
)


class ReasonOut(BaseModel):
    feature: str
    text: str
    contribution: float


class AtRiskOut(BaseModel):
    stakeholder_id: int | None
    stakeholder_key: str | None
    name: str
    stakeholder_type: str
    country_code: str | None
    risk: float
    rank: int
    reasons: list[ReasonOut]
    model_version: int
    as_of: datetime


class AtRiskListOut(BaseModel):
    items: list[AtRiskOut]
    total: int
    limit: int
    offset: int
    model_version: int | None
    as_of: datetime | None


@router.get("/stakeholders")
def list_at_risk(
    session: DbSession,
    principal: CommercialReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    min_risk: Annotated[float, Query(ge=0, le=1, description="Only risks at least this.")] = 0.0,
    stakeholder_type: Annotated[str | None, Query(max_length=40)] = None,
) -> AtRiskListOut:
    """Stakeholders by their risk of turning detractor or disengaging in the next 90 days,
    highest first, with the model's top reasons for each and the model version. Objectors are
    never listed; patients and caregivers only for roles that see patient data (read audited);
    reasons from medical-inquiry handling only for medical roles."""
    page = at_risk_stakeholders(
        session,
        principal,
        limit=limit,
        offset=offset,
        min_risk=min_risk,
        stakeholder_type=stakeholder_type,
    )
    items: list[Any] = [
        AtRiskOut.model_validate(item, from_attributes=True).model_copy(
            update={"as_of": as_aware_utc(item.as_of)}
        )
        for item in page.items
    ]
    return AtRiskListOut(
        items=items,
        total=page.total,
        limit=limit,
        offset=offset,
        model_version=page.model_version,
        as_of=as_aware_utc(page.as_of) if page.as_of else None,
    )


class ActionOut(BaseModel):
    id: int
    stakeholder_id: int | None
    stakeholder: str
    stakeholder_type: str
    team: str | None
    channel: str | None
    topic: str
    why: str
    not_before: datetime
    status: str
    held_reason: str | None
    case_id: int | None
    outcome: str | None
    risk: float


class ActionListOut(BaseModel):
    items: list[ActionOut]
    total: int
    limit: int
    offset: int


class OutcomeIn(BaseModel):
    outcome: Literal["reached_improved", "reached_no_change", "not_reached"]


@router.get("/actions")
def list_outreach_actions(
    session: DbSession,
    principal: CommercialReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Annotated[Literal["proposed", "accepted", "dismissed", "done"] | None, Query()] = None,
) -> ActionListOut:
    """Next best actions for people at risk: one team, one channel, one topic, not before a
    date. Actions drawn from medical inquiries are shown to medical roles only."""
    rows, total = outreach.actions_for_viewer(
        session,
        principal,
        action_filter=outreach.ActionFilter(status=status),
        limit=limit,
        offset=offset,
    )
    items = [
        ActionOut.model_validate(row, from_attributes=True).model_copy(
            update={"not_before": as_aware_utc(row.not_before)}
        )
        for row in rows
    ]
    return ActionListOut(items=items, total=total, limit=limit, offset=offset)


def _action_for(session: DbSession, principal: CaseWorker, action_id: int) -> OutreachAction:
    action = outreach.get_action(session, action_id=action_id)
    outreach.check_may_work(session, principal, action)
    return action


@router.post("/actions/{action_id}/accept", dependencies=[requires(CASE_WORK)])
def accept_outreach_action(session: DbSession, principal: CaseWorker, action_id: int) -> ActionOut:
    """Accept: the action becomes a case for its team, routed by the RACI matrix, with SLA."""
    action = outreach.accept_action(
        session,
        action=_action_for(session, principal, action_id),
        actor_user_id=principal.user_id,
    )
    return _one(session, principal, action.id)


@router.post("/actions/{action_id}/dismiss", dependencies=[requires(CASE_WORK)])
def dismiss_outreach_action(session: DbSession, principal: CaseWorker, action_id: int) -> ActionOut:
    action = outreach.dismiss_action(
        session,
        action=_action_for(session, principal, action_id),
        actor_user_id=principal.user_id,
    )
    return _one(session, principal, action.id)


@router.post("/actions/{action_id}/outcome", dependencies=[requires(CASE_WORK)])
def record_outreach_outcome(
    session: DbSession, principal: CaseWorker, action_id: int, data: OutcomeIn
) -> ActionOut:
    """What came of an accepted action (the next scoring shows the risk it left)."""
    action = outreach.record_outcome(
        session, action=_action_for(session, principal, action_id), outcome=data.outcome
    )
    return _one(session, principal, action.id)


def _one(session: DbSession, principal: CaseWorker, action_id: int) -> ActionOut:
    rows, _ = outreach.actions_for_viewer(session, principal, action_id=action_id)
    row = rows[0]
    return ActionOut.model_validate(row, from_attributes=True).model_copy(
        update={"not_before": as_aware_utc(row.not_before)}
    )
