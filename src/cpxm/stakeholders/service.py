"""Finding stakeholders and reading their profile (interests, channel preferences, affiliations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from cpxm.errors import NotFoundError
from cpxm.stakeholders.models import (
    Affiliation,
    ChannelPreference,
    Stakeholder,
    TherapeuticInterest,
)


@dataclass(frozen=True)
class StakeholderProfile:
    stakeholder: Stakeholder
    therapeutic_interests: list[str]
    channel_preferences: list[ChannelPreference]
    # (affiliation, person's display name, organisation's display name)
    affiliations: list[tuple[Affiliation, str, str]]


def list_stakeholders(
    session: Session,
    *,
    type: str | None = None,
    kind: str | None = None,
    country: str | None = None,
    specialty: str | None = None,
    therapeutic_area: str | None = None,
    q: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Stakeholder], int]:
    """Stakeholders matching every given filter, by name then id; with the count of all matches."""
    statement = select(Stakeholder)
    if type is not None:
        statement = statement.where(Stakeholder.type == type)
    if kind is not None:
        statement = statement.where(Stakeholder.kind == kind)
    if country is not None:
        statement = statement.where(Stakeholder.country_code == country.upper())
    if specialty is not None:
        statement = statement.where(func.lower(Stakeholder.specialty) == specialty.lower())
    if therapeutic_area is not None:
        interested = select(TherapeuticInterest.stakeholder_id).where(
            TherapeuticInterest.therapeutic_area_code == therapeutic_area
        )
        statement = statement.where(Stakeholder.id.in_(interested))
    if q:
        statement = statement.where(Stakeholder.display_name.icontains(q, autoescape=True))
    total = _count(session, statement)
    page = statement.order_by(Stakeholder.display_name, Stakeholder.id).limit(limit).offset(offset)
    return list(session.scalars(page)), total


def get_stakeholder(session: Session, *, stakeholder_id: int) -> Stakeholder:
    stakeholder = session.get(Stakeholder, stakeholder_id)
    if stakeholder is None:
        raise NotFoundError("stakeholder", stakeholder_id)
    return stakeholder


def get_stakeholder_profile(session: Session, *, stakeholder_id: int) -> StakeholderProfile:
    """The stakeholder with everything the detail view shows, in four indexed queries."""
    stakeholder = get_stakeholder(session, stakeholder_id=stakeholder_id)
    interests = session.scalars(
        select(TherapeuticInterest.therapeutic_area_code)
        .where(TherapeuticInterest.stakeholder_id == stakeholder_id)
        .order_by(TherapeuticInterest.therapeutic_area_code)
    )
    preferences = session.scalars(
        select(ChannelPreference)
        .where(ChannelPreference.stakeholder_id == stakeholder_id)
        .order_by(ChannelPreference.rank, ChannelPreference.channel_code)
    )
    person = aliased(Stakeholder)
    organisation = aliased(Stakeholder)
    affiliation_rows = session.execute(
        select(Affiliation, person.display_name, organisation.display_name)
        .join(person, person.id == Affiliation.person_id)
        .join(organisation, organisation.id == Affiliation.organisation_id)
        .where(
            (Affiliation.person_id == stakeholder_id)
            | (Affiliation.organisation_id == stakeholder_id)
        )
        .order_by(Affiliation.id)
    )
    return StakeholderProfile(
        stakeholder=stakeholder,
        therapeutic_interests=list(interests),
        channel_preferences=list(preferences),
        affiliations=[(row[0], row[1], row[2]) for row in affiliation_rows],
    )


def _count(session: Session, statement: Select[Any]) -> int:
    return (
        session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    )
