"""Finding stakeholders and reading their profile (interests, channel preferences, affiliations)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from cpxm.db import one_of
from cpxm.errors import DomainError, NotFoundError
from cpxm.stakeholders.models import (
    Affiliation,
    ChannelPreference,
    Stakeholder,
    TherapeuticInterest,
)
from cpxm.textmatch import contains_text

# Which records a list shows: golden records ("active", the default everywhere a figure or a
# list is shown), the provisional records identity resolution merged into them, or both.
StatusFilter = Literal["active", "merged", "all"]
STATUS_FILTERS: tuple[StatusFilter, ...] = ("active", "merged", "all")
# A merge chain longer than this is a bug; it is cut rather than followed forever.
_MAX_MERGE_HOPS = 32


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
    q_skips_types: tuple[str, ...] = (),
    status: StatusFilter = "active",
    sort: str = "name",
    limit: int,
    offset: int,
) -> tuple[list[Stakeholder], int]:
    """Stakeholders matching every given filter, by name then id; with the count of all matches.

    Golden records only unless ``status`` asks for the merged ones too: a person counts once.
    ``q`` never matches the names of ``q_skips_types`` (those the caller may not see by name:
    a search that matched them would spell a hidden name out one letter at a time).
    """
    statement = select(Stakeholder)
    if status != "all":
        statement = statement.where(Stakeholder.status == status)
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
        statement = statement.where(contains_text(Stakeholder.display_name, q))
        if q_skips_types:
            statement = statement.where(Stakeholder.type.not_in(q_skips_types))
    total = _count(session, statement)
    page = statement.order_by(*_stakeholder_order(sort)).limit(limit).offset(offset)
    return list(session.scalars(page)), total


STAKEHOLDER_SORTS = (
    ("name", "Name"),
    ("newest", "Newest first"),
    ("country", "Country, then name"),
)


def _stakeholder_order(sort: str) -> list[Any]:
    if sort == "newest":
        return [Stakeholder.created_at.desc(), Stakeholder.id.desc()]
    if sort == "country":
        return [Stakeholder.country_code, Stakeholder.display_name, Stakeholder.id]
    if sort != "name":
        keys = ", ".join(key for key, _label in STAKEHOLDER_SORTS)
        raise DomainError(f"sort is '{sort}', expected one of {keys}")
    return [Stakeholder.display_name, Stakeholder.id]


def golden_ids(session: Session, *, stakeholder_ids: Iterable[int]) -> dict[int, int]:
    """Merged stakeholder id -> the golden record it now is, following merges of merges.

    Golden (and unknown) ids are left out. A merge keeps the merged record's ``merged_into_id``
    on its survivor of the day, so a survivor merged later is followed hop by hop, one query
    per hop for every id at once.
    """
    known: dict[int, int | None] = {}  # id -> merged into, None for a golden record
    wanted = set(stakeholder_ids)
    for _ in range(_MAX_MERGE_HOPS):
        if not wanted:
            break
        rows = session.execute(
            select(Stakeholder.id, Stakeholder.status, Stakeholder.merged_into_id).where(
                one_of(session, Stakeholder.id, sorted(wanted))
            )
        )
        for stakeholder_id, status, merged_into_id in rows:
            known[stakeholder_id] = merged_into_id if status == "merged" else None
        wanted = {into for into in known.values() if into is not None and into not in known}
    golden: dict[int, int] = {}
    for stakeholder_id, into in known.items():
        current = stakeholder_id
        for _ in range(_MAX_MERGE_HOPS):
            if into is None:
                break
            current, into = into, known.get(into)
        if current != stakeholder_id:
            golden[stakeholder_id] = current
    return golden


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


@dataclass(frozen=True)
class SearchHit:
    stakeholder: Stakeholder
    institution: str | None
    # The id that was searched for when it is a record merged into this one.
    matched_merged_id: int | None = None


def search_stakeholders(
    session: Session,
    *,
    q: str,
    q_skips_types: tuple[str, ...] = (),
    type: str | None = None,
    country: str | None = None,
    sort: str = "name",
    limit: int,
    offset: int,
) -> tuple[list[SearchHit], int]:
    """Golden records whose name, email, professional id or institution contains ``q``, or
    whose id is ``q``; an id of a merged record finds the golden record it became.

    ``q_skips_types`` (the types the caller may not see by identity) are never matched by any
    field: a search that matched them would confirm a hidden person's email or id.
    """
    text = q.strip()
    conditions = [
        contains_text(Stakeholder.display_name, text),
        contains_text(Stakeholder.email, text),
        contains_text(Stakeholder.professional_id, text),
    ]
    organisation = aliased(Stakeholder)
    at_institution = (
        select(Affiliation.person_id)
        .join(organisation, organisation.id == Affiliation.organisation_id)
        .where(contains_text(organisation.display_name, text))
    )
    conditions.append(Stakeholder.id.in_(at_institution))
    merged_from: dict[int, int] = {}
    if _is_id(text):
        wanted = int(text)
        golden = golden_ids(session, stakeholder_ids=[wanted]).get(wanted)
        conditions.append(Stakeholder.id == (golden or wanted))
        if golden is not None:
            merged_from[golden] = wanted
    statement = select(Stakeholder).where(Stakeholder.status == "active", or_(*conditions))
    if type is not None:
        statement = statement.where(Stakeholder.type == type)
    if country is not None:
        statement = statement.where(Stakeholder.country_code == country.upper())
    if q_skips_types:
        statement = statement.where(Stakeholder.type.not_in(q_skips_types))
    total = _count(session, statement)
    # An exact id first, then in the order asked: a person looked up by id is the one wanted.
    exact = [Stakeholder.id == int(text)] if _is_id(text) else []
    order = [*(c.desc() for c in exact), *_stakeholder_order(sort)]
    if merged_from:
        order.insert(0, Stakeholder.id.in_(list(merged_from)).desc())
    found = list(session.scalars(statement.order_by(*order).limit(limit).offset(offset)))
    places = institutions(session, person_ids=[s.id for s in found])
    return [
        SearchHit(s, places.get(s.id), matched_merged_id=merged_from.get(s.id)) for s in found
    ], total


def institutions(session: Session, *, person_ids: list[int]) -> dict[int, str]:
    """Each person's current institution: the organisation of their first open affiliation."""
    if not person_ids:
        return {}
    organisation = aliased(Stakeholder)
    rows = session.execute(
        select(Affiliation.person_id, organisation.display_name)
        .join(organisation, organisation.id == Affiliation.organisation_id)
        .where(Affiliation.person_id.in_(person_ids), Affiliation.ended_on.is_(None))
        .order_by(Affiliation.person_id, Affiliation.id)
    )
    found: dict[int, str] = {}
    for person_id, name in rows:
        found.setdefault(person_id, name)
    return found


def _is_id(text: str) -> bool:
    """Whether a search text is an id: ASCII digits only ('²' is a digit to Python, not to
    ``int``), and short enough for the store's integer columns."""
    return text.isascii() and text.isdigit() and len(text) < 19
