"""Cases, their trail, notifications and recovery figures as the API shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cpxm.cases.service import RESOLUTION_CODES
from cpxm.cases.sla import CASE_TYPES, PRIORITIES
from cpxm.timeutil import UtcDateTime

CaseType = Literal[CASE_TYPES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
ResolutionCode = Literal[RESOLUTION_CODES]  # type: ignore[valid-type]


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_type: str
    status: str
    priority: str
    title: str
    description: str | None
    stakeholder_id: int | None
    stakeholder_key: str | None = None
    text_withheld: str | None = None
    response_id: int | None
    feedback_item_id: int | None
    source_key: str | None
    activity: str
    country_code: str | None
    team_id: int | None
    assignee_user_id: int | None
    accountable_user_id: int | None
    accountable_team_id: int | None
    opened_at: UtcDateTime
    due_at: UtcDateTime | None
    sla_business_hours: int | None
    escalation_level: int
    closed_at: UtcDateTime | None
    resolution_code: str | None
    recovery_invitation_id: int | None = Field(
        description="The service-recovery re-survey's invitation, once the person was invited."
    )
    recovery_held_reason: str | None = Field(
        description="Why the distribution's rules held the re-survey back (consent, fatigue)."
    )
    recovery_score: float | None
    recovery_answered_at: UtcDateTime | None


class CaseEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: UtcDateTime
    actor_user_id: int | None
    event_type: str
    details: dict[str, Any] | None


class CaseDetailOut(CaseOut):
    events: list[CaseEventOut]


class CaseCreate(BaseModel):
    case_type: CaseType = "manual"
    title: str = Field(min_length=1, max_length=300)
    priority: Priority = "normal"
    description: str | None = Field(default=None, max_length=20_000)
    stakeholder_id: int | None = None
    department: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    therapeutic_area: str | None = Field(default=None, max_length=40)


class CaseAssign(BaseModel):
    user_id: int | None = None
    team_id: int | None = None


class CaseComment(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class CaseClose(BaseModel):
    resolution_code: ResolutionCode
    note: str | None = Field(default=None, max_length=5000)


class CaseReopen(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: UtcDateTime
    subject: str
    body: str
    link: str | None
    read_at: UtcDateTime | None


class NotificationsRead(BaseModel):
    ids: list[int] = Field(max_length=1000)


class RecoveryOut(BaseModel):
    surveyed: int
    answered: int
    recovered: int
    recovery_rate: float | None = Field(description="Recovered / answered; null with no answers.")


class ScanOut(BaseModel):
    answers_read: int
    feedback_read: int
    opened: list[int]
    already_open: int
