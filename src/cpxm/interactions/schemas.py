"""What the API accepts and says about interactions; the one place an interaction becomes JSON.

The API speaks in taxonomy codes named after the thing (``channel``, not ``channel_code``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cpxm.interactions.models import Interaction
from cpxm.timeutil import UtcDateTime, to_naive_utc, utc_now

# Clocks drift and clients queue; an interaction a few minutes "in the future" is still real.
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_NOTES_LENGTH = 10_000

Code = Field(min_length=1, max_length=40)


class InteractionCreate(BaseModel):
    """A touchpoint to record; unknown fields are rejected so a typo never loses data silently."""

    model_config = ConfigDict(extra="forbid")

    stakeholder_id: int
    occurred_at: datetime = Field(
        description="When it happened; naive times are UTC. At most 5 minutes in the future."
    )
    channel: str = Code
    department: str = Code
    interaction_type: str = Field(min_length=1, max_length=60, examples=["msl_visit"])
    direction: Literal["inbound", "outbound"]
    product: str | None = Field(default=None, min_length=1, max_length=40)
    therapeutic_area: str | None = Field(default=None, min_length=1, max_length=40)
    lifecycle_phase: str | None = Field(default=None, min_length=1, max_length=40)
    journey_stage_id: int | None = None
    employee_id: int | None = None
    outcome: str | None = Field(default=None, max_length=120)
    notes: str | None = Field(default=None, max_length=MAX_NOTES_LENGTH)

    @field_validator("occurred_at")
    @classmethod
    def _not_in_the_future(cls, occurred_at: datetime) -> datetime:
        occurred_at = to_naive_utc(occurred_at)
        if occurred_at > utc_now() + FUTURE_TOLERANCE:
            raise ValueError("must not be in the future")
        return occurred_at


class InteractionOut(BaseModel):
    id: int
    # Null, with ``stakeholder_key`` instead, for a patient a role may not see by name.
    stakeholder_id: int | None
    stakeholder_key: str | None = None
    occurred_at: UtcDateTime
    channel: str
    department: str
    interaction_type: str
    direction: str
    product: str | None
    therapeutic_area: str | None
    lifecycle_phase: str | None
    journey_stage_id: int | None
    employee_id: int | None
    outcome: str | None
    notes: str | None
    created_at: UtcDateTime
    text_withheld: str | None = None


def interaction_out(interaction: Interaction) -> InteractionOut:
    return InteractionOut(
        id=interaction.id,
        stakeholder_id=interaction.stakeholder_id,
        occurred_at=interaction.occurred_at,
        channel=interaction.channel_code,
        department=interaction.department_code,
        interaction_type=interaction.interaction_type,
        direction=interaction.direction,
        product=interaction.product_code,
        therapeutic_area=interaction.therapeutic_area_code,
        lifecycle_phase=interaction.lifecycle_phase_code,
        journey_stage_id=interaction.journey_stage_id,
        employee_id=interaction.employee_id,
        outcome=interaction.outcome,
        notes=interaction.notes,
        created_at=interaction.created_at,
    )
