"""What the API says about stakeholders; the one place a stakeholder becomes JSON.

What of a record a role sees is decided by ``cpxm.access.shield_stakeholders``: a patient shown
to a role without the patient-identifiable domain has ``id`` null and a pseudonymous ``key``.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from cpxm.stakeholders.models import Affiliation, ChannelPreference, Stakeholder
from cpxm.timeutil import UtcDateTime


class StakeholderOut(BaseModel):
    # Null for a patient or caregiver shown to a role that may not see who they are: the record
    # then carries its pseudonymous ``key`` instead, never both.
    id: int | None
    key: str | None = Field(
        None, description="Pseudonymous key of a patient, for roles that may not see identity."
    )
    kind: str
    type: str
    display_name: str
    first_name: str | None
    last_name: str | None
    specialty: str | None
    professional_id: str | None
    email: str | None
    phone: str | None
    address_line: str | None
    postal_code: str | None
    city: str | None
    country: str | None
    language: str | None
    birth_date: date | None
    # "active": the golden record; "merged": a record identity resolution folded into the
    # golden record ``merged_into``, kept so a merge can be undone and old links still answer.
    status: str
    merged_into: int | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ChannelPreferenceOut(BaseModel):
    channel: str
    rank: int


class AffiliationOut(BaseModel):
    id: int
    person_id: int | None
    person_key: str | None = None
    person_name: str
    organisation_id: int
    organisation_name: str
    role: str
    started_on: date | None
    ended_on: date | None


class StakeholderDetailOut(StakeholderOut):
    therapeutic_interests: list[str]
    channel_preferences: list[ChannelPreferenceOut]
    affiliations: list[AffiliationOut]


def stakeholder_out(stakeholder: Stakeholder, *, merged_into: int | None = None) -> StakeholderOut:
    """``merged_into``: the golden record a merged stakeholder now is (the end of its chain)."""
    return StakeholderOut(**_fields(stakeholder, merged_into))


def stakeholder_detail_out(
    stakeholder: Stakeholder,
    *,
    therapeutic_interests: list[str],
    channel_preferences: list[ChannelPreference],
    affiliations: list[tuple[Affiliation, str, str]],
    merged_into: int | None = None,
) -> StakeholderDetailOut:
    """The stakeholder with its profile; affiliations come with (person, organisation) names."""
    return StakeholderDetailOut(
        **_fields(stakeholder, merged_into),
        therapeutic_interests=therapeutic_interests,
        channel_preferences=[
            ChannelPreferenceOut(channel=preference.channel_code, rank=preference.rank)
            for preference in channel_preferences
        ],
        affiliations=[
            AffiliationOut(
                id=affiliation.id,
                person_id=affiliation.person_id,
                person_name=person_name,
                organisation_id=affiliation.organisation_id,
                organisation_name=organisation_name,
                role=affiliation.role,
                started_on=affiliation.started_on,
                ended_on=affiliation.ended_on,
            )
            for affiliation, person_name, organisation_name in affiliations
        ],
    )


def _fields(stakeholder: Stakeholder, merged_into: int | None) -> dict[str, object]:
    return {
        "id": stakeholder.id,
        "kind": stakeholder.kind,
        "type": stakeholder.type,
        "display_name": stakeholder.display_name,
        "first_name": stakeholder.first_name,
        "last_name": stakeholder.last_name,
        "specialty": stakeholder.specialty,
        "professional_id": stakeholder.professional_id,
        "email": stakeholder.email,
        "phone": stakeholder.phone,
        "address_line": stakeholder.address_line,
        "postal_code": stakeholder.postal_code,
        "city": stakeholder.city,
        "country": stakeholder.country_code,
        "language": stakeholder.language,
        "birth_date": stakeholder.birth_date,
        "status": stakeholder.status,
        # The end of the merge chain when the caller followed it, else the survivor of the day.
        "merged_into": (merged_into or stakeholder.merged_into_id)
        if stakeholder.status == "merged"
        else None,
        "created_at": stakeholder.created_at,
        "updated_at": stakeholder.updated_at,
    }


class StakeholderHitOut(BaseModel):
    """A golden record found by a search, with what tells people apart in a list."""

    id: int | None
    key: str | None = Field(
        None, description="Pseudonymous key of a patient, for roles that may not see identity."
    )
    kind: str
    type: str
    display_name: str
    specialty: str | None
    professional_id: str | None
    email: str | None
    city: str | None
    country: str | None
    institution: str | None = Field(None, description="The organisation of a current affiliation.")
    matched_merged_id: int | None = Field(
        None, description="The searched id, when it is a record merged into this golden record."
    )


def stakeholder_hit_out(
    stakeholder: Stakeholder, *, institution: str | None, matched_merged_id: int | None
) -> StakeholderHitOut:
    return StakeholderHitOut(
        id=stakeholder.id,
        kind=stakeholder.kind,
        type=stakeholder.type,
        display_name=stakeholder.display_name,
        specialty=stakeholder.specialty,
        professional_id=stakeholder.professional_id,
        email=stakeholder.email,
        city=stakeholder.city,
        country=stakeholder.country_code,
        institution=institution,
        matched_merged_id=matched_merged_id,
    )
