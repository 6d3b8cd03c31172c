"""JSON routes for data-subject requests: access/portability export, erasure and rectification
(admins, who are the workspace's data stewards)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cpxm.access import ADMINISTRATION, Administrator, requires
from cpxm.deps import DbSession
from cpxm.privacy.erasure import erase_person
from cpxm.privacy.export import export_person
from cpxm.privacy.objection import objections_of, record_objection, withdraw_objection
from cpxm.privacy.rectification import rectify
from cpxm.timeutil import UtcDateTime

router = APIRouter(tags=["privacy"], dependencies=[requires(ADMINISTRATION)])


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


@router.get("/privacy/stakeholders/{stakeholder_id}/export")
def export_stakeholder(
    session: DbSession, stakeholder_id: int, principal: Administrator
) -> dict[str, Any]:
    """Everything held about the person (GDPR Art. 15 and 20), as one JSON document."""
    return export_person(session, stakeholder_id=stakeholder_id, actor_user_id=principal.user_id)


@router.post("/privacy/stakeholders/{stakeholder_id}/erase", status_code=201)
def erase_stakeholder(
    session: DbSession, stakeholder_id: int, data: ErasureIn, principal: Administrator
) -> ErasureOut:
    """Erase the person everywhere but in safety cases (GDPR Art. 17); it cannot be undone."""
    erasure = erase_person(
        session, stakeholder_id=stakeholder_id, reason=data.reason, actor_user_id=principal.user_id
    )
    return ErasureOut.model_validate(erasure)


class RectificationIn(BaseModel):
    """The corrected golden-record fields (only those given change) and why."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000, examples=["Art. 16 request of 2026-12-01: new address"])
    first_name: str | None = Field(None, max_length=120)
    last_name: str | None = Field(None, max_length=120)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    address_line: str | None = Field(None, max_length=300)
    postal_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=120)
    country_code: str | None = Field(None, max_length=2)
    language: str | None = Field(None, max_length=8)
    birth_date: date | None = None
    specialty: str | None = Field(None, max_length=120)
    professional_id: str | None = Field(None, max_length=40)


class RectifiedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    display_name: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    address_line: str | None
    postal_code: str | None
    city: str | None
    country_code: str | None
    language: str | None
    birth_date: date | None
    specialty: str | None
    professional_id: str | None


@router.patch("/stakeholders/{stakeholder_id}")
def rectify_stakeholder(
    session: DbSession, stakeholder_id: int, data: RectificationIn, principal: Administrator
) -> RectifiedOut:
    """Correct golden-record fields (GDPR Art. 16); the correction wins over later resolves."""
    changes = data.model_dump(exclude_unset=True, exclude={"reason"})
    stakeholder = rectify(
        session,
        stakeholder_id=stakeholder_id,
        changes=changes,
        reason=data.reason,
        actor=principal,
    )
    return RectifiedOut.model_validate(stakeholder)


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000, examples=["Art. 21 letter of 2026-12-01"])


class ObjectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stakeholder_id: int
    objected_at: UtcDateTime
    reason: str
    withdrawn_at: UtcDateTime | None
    withdrawal_reason: str | None


@router.get("/privacy/stakeholders/{stakeholder_id}/objections")
def list_objections(session: DbSession, stakeholder_id: int) -> list[ObjectionOut]:
    """The person's objections (GDPR Art. 21), standing and withdrawn, oldest first."""
    return [
        ObjectionOut.model_validate(row)
        for row in objections_of(session, stakeholder_id=stakeholder_id)
    ]


@router.post("/privacy/stakeholders/{stakeholder_id}/objection", status_code=201)
def object_to_processing(
    session: DbSession, stakeholder_id: int, data: ObjectionIn, principal: Administrator
) -> ObjectionOut:
    """The person objects: left out of profiling lists and survey audiences from now on."""
    return ObjectionOut.model_validate(
        record_objection(
            session,
            stakeholder_id=stakeholder_id,
            reason=data.reason,
            actor_user_id=principal.user_id,
        )
    )


@router.post("/privacy/stakeholders/{stakeholder_id}/objection/withdraw")
def withdraw(
    session: DbSession, stakeholder_id: int, data: ObjectionIn, principal: Administrator
) -> ObjectionOut:
    """The person withdraws their objection (kept, with when and why)."""
    return ObjectionOut.model_validate(
        withdraw_objection(
            session,
            stakeholder_id=stakeholder_id,
            reason=data.reason,
            actor_user_id=principal.user_id,
        )
    )
