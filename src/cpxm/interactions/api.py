"""JSON routes for interactions: thin wrappers over ``cpxm.interactions.service``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from cpxm.access import (
    COMMERCIAL_DATA,
    CommercialReader,
    person_filter,
    requires,
    shield_interactions,
)
from cpxm.deps import DbSession
from cpxm.interactions import service
from cpxm.interactions.schemas import InteractionCreate, InteractionOut, interaction_out
from cpxm.pagination import Page, Pagination

router = APIRouter(
    prefix="/interactions", tags=["interactions"], dependencies=[requires(COMMERCIAL_DATA)]
)


@router.get("", response_model=Page[InteractionOut])
def list_interactions(
    session: DbSession,
    principal: CommercialReader,
    page: Pagination,
    stakeholder_id: int | None = None,
    channel: str | None = None,
    department: str | None = None,
    interaction_type: str | None = None,
    product: str | None = None,
    therapeutic_area: str | None = None,
    lifecycle_phase: str | None = None,
    occurred_from: Annotated[
        datetime | None, Query(description="Inclusive; naive times are UTC.")
    ] = None,
    occurred_to: Annotated[
        datetime | None, Query(description="Exclusive; naive times are UTC.")
    ] = None,
) -> Page[InteractionOut]:
    """Interactions, filtered, newest first."""
    interactions, total = service.list_interactions(
        session,
        stakeholder_id=person_filter(session, principal, stakeholder_id),
        channel=channel,
        department=department,
        interaction_type=interaction_type,
        product=product,
        therapeutic_area=therapeutic_area,
        lifecycle_phase=lifecycle_phase,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=shield_interactions(session, principal, [interaction_out(i) for i in interactions]),
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{interaction_id}", response_model=InteractionOut)
def get_interaction(
    session: DbSession, principal: CommercialReader, interaction_id: int
) -> InteractionOut:
    found = interaction_out(service.get_interaction(session, interaction_id=interaction_id))
    return shield_interactions(session, principal, [found])[0]


@router.post("", response_model=InteractionOut, status_code=status.HTTP_201_CREATED)
def create_interaction(session: DbSession, data: InteractionCreate) -> InteractionOut:
    """Record a touchpoint; unknown references answer 422 naming the field and allowed codes."""
    return interaction_out(service.create_interaction(session, data=data))
