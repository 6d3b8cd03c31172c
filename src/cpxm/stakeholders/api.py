"""JSON routes for stakeholders: thin wrappers over ``cpxm.stakeholders.service``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cpxm.access import (
    COMMERCIAL_DATA,
    CommercialReader,
    hidden_person_types,
    person_lookup,
    requires,
    shield_stakeholders,
)
from cpxm.deps import DbSession
from cpxm.errors import NotFoundError
from cpxm.pagination import Page, Pagination
from cpxm.stakeholders import service
from cpxm.stakeholders.models import STAKEHOLDER_TYPES
from cpxm.stakeholders.schemas import (
    StakeholderDetailOut,
    StakeholderHitOut,
    StakeholderOut,
    stakeholder_detail_out,
    stakeholder_hit_out,
    stakeholder_out,
)
from cpxm.stakeholders.service import StatusFilter

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
    status: Annotated[
        StatusFilter,
        Query(
            description="`active` (default): golden records, one per person or organisation; "
            "`merged`: records identity resolution folded into one, with `merged_into`; `all`."
        ),
    ] = "active",
) -> Page[StakeholderOut]:
    """Golden records of every kind (or merged ones, by ``status``), filtered; ordered by name."""
    stakeholders, total = service.list_stakeholders(
        session,
        type=type,
        kind=kind,
        country=country,
        specialty=specialty,
        therapeutic_area=therapeutic_area,
        q=q,
        q_skips_types=hidden_person_types(principal),
        status=status,
        limit=page.limit,
        offset=page.offset,
    )
    golden = service.golden_ids(
        session, stakeholder_ids=[s.id for s in stakeholders if s.status == "merged"]
    )
    items = [stakeholder_out(s, merged_into=golden.get(s.id)) for s in stakeholders]
    return Page(
        items=shield_stakeholders(session, principal, items, purpose="list"),
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/search", response_model=Page[StakeholderHitOut])
def search_stakeholders(
    session: DbSession,
    principal: CommercialReader,
    page: Pagination,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description="Part of a name, email, professional id or institution, or an id "
            "(a merged record's id finds the golden record it became).",
        ),
    ],
    type: StakeholderType | None = None,
) -> Page[StakeholderHitOut]:
    """Golden records matching ``q``, exact id first, then by name. Patients and caregivers
    are never matched for a role that may not see who they are, by any field."""
    hits, total = service.search_stakeholders(
        session,
        q=q,
        q_skips_types=hidden_person_types(principal),
        type=type,
        limit=page.limit,
        offset=page.offset,
    )
    items = [
        stakeholder_hit_out(
            hit.stakeholder, institution=hit.institution, matched_merged_id=hit.matched_merged_id
        )
        for hit in hits
    ]
    return Page(
        items=shield_stakeholders(session, principal, items, purpose="search"),
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{stakeholder_id}", response_model=StakeholderDetailOut)
def get_stakeholder(
    session: DbSession, principal: CommercialReader, stakeholder_id: int
) -> StakeholderDetailOut:
    """One stakeholder with therapeutic interests, channel preferences and affiliations.

    A merged record still answers, as it is, with ``merged_into`` naming its golden record, so
    links kept from before a merge lead to the person.
    """
    if person_lookup(session, principal, stakeholder_id) is None:
        # 404 as for an unknown id: the answer must not confirm that the id is a patient's.
        raise NotFoundError("stakeholder", stakeholder_id)
    profile = service.get_stakeholder_profile(session, stakeholder_id=stakeholder_id)
    found = stakeholder_detail_out(
        profile.stakeholder,
        therapeutic_interests=profile.therapeutic_interests,
        channel_preferences=profile.channel_preferences,
        affiliations=profile.affiliations,
        merged_into=service.golden_ids(session, stakeholder_ids=[stakeholder_id]).get(
            stakeholder_id
        ),
    )
    return shield_stakeholders(session, principal, [found], purpose="profile")[0]
