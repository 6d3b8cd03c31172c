"""JSON routes for data-subject requests: access/portability export and erasure (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cpxm.access import ADMINISTRATION, Administrator, requires
from cpxm.deps import DbSession
from cpxm.privacy.erasure import erase_person
from cpxm.privacy.export import export_person
from cpxm.timeutil import UtcDateTime

router = APIRouter(prefix="/privacy", tags=["privacy"], dependencies=[requires(ADMINISTRATION)])


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000, examples=["Art. 17 request of 2026-12-01"])


class ErasureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stakeholder_id: int
    erased_at: UtcDateTime
    erased_by_user_id: int | None
    reason: str
    summary: dict[str, int]


@router.get("/stakeholders/{stakeholder_id}/export")
def export_stakeholder(
    session: DbSession, stakeholder_id: int, principal: Administrator
) -> dict[str, Any]:
    """Everything held about the person (GDPR Art. 15 and 20), as one JSON document."""
    return export_person(session, stakeholder_id=stakeholder_id, actor_user_id=principal.user_id)


@router.post("/stakeholders/{stakeholder_id}/erase", status_code=201)
def erase_stakeholder(
    session: DbSession, stakeholder_id: int, data: ErasureIn, principal: Administrator
) -> ErasureOut:
    """Erase the person everywhere but in safety cases (GDPR Art. 17); it cannot be undone."""
    erasure = erase_person(
        session, stakeholder_id=stakeholder_id, reason=data.reason, actor_user_id=principal.user_id
    )
    return ErasureOut.model_validate(erasure)
