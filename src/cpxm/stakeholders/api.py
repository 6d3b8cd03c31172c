"""JSON routes for stakeholders: thin wrappers over ``cpxm.stakeholders.service``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cpxm.access import COMMERCIAL_DATA, CommercialReader, requires, shield_stakeholders
from cpxm.deps import DbSession
from cpxm.pagination import Page, Pagination
from cpxm.stakeholders import service
from cpxm.stakeholders.models import STAKEHOLDER_TYPES
from cpxm.stakeholders.schemas import (
    StakeholderDetailOut,
    StakeholderOut,
    stakeholder_detail_out,
    stakeholder_out,
)

router = APIRouter(
    prefix="/stakeholders", tags=["stakeholders"], dependencies=[requires(COMMERCIAL_DATA)]
)

StakeholderType = Literal[STAKEHOLDER_TYPES]  # type: ignore[valid-type]


@router.get("", response_model=Page[StakeholderOut])
def list_stakeholders(
    session: DbSession,
    principal: CommercialReader,
    page: Pagination,
    type: StakeholderType | None = None,
    kind: Literal["person", "organisation"] | None = None,
    country: Annotated[str | None, Query(description="ISO 3166-1 alpha-2 code.")] = None,
    specialty: str | None = None,
    therapeutic_area: Annotated[
        str | None, Query(description="Therapeutic area code the stakeholder is interested in.")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
) -> Page[StakeholderOut]:
    """Stakeholders of every kind, filtered; ordered by name."""
    stakeholders, total = service.list_stakeholders(
        session,
        type=type,
        kind=kind,
        country=country,
        specialty=specialty,
        therapeutic_area=therapeutic_area,
        q=q,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=shield_stakeholders(
            session, principal, [stakeholder_out(s) for s in stakeholders], purpose="list"
        ),
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{stakeholder_id}", response_model=StakeholderDetailOut)
def get_stakeholder(
    session: DbSession, principal: CommercialReader, stakeholder_id: int
) -> StakeholderDetailOut:
    """One stakeholder with therapeutic interests, channel preferences and affiliations."""
    profile = service.get_stakeholder_profile(session, stakeholder_id=stakeholder_id)
    found = stakeholder_detail_out(
        profile.stakeholder,
        therapeutic_interests=profile.therapeutic_interests,
        channel_preferences=profile.channel_preferences,
        affiliations=profile.affiliations,
    )
    return shield_stakeholders(session, principal, [found], purpose="profile")[0]
