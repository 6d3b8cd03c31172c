"""JSON endpoints of prediction under ``/api/v1/predictions``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cpxm.access import COMMERCIAL_DATA, CommercialReader, requires
from cpxm.deps import DbSession
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
