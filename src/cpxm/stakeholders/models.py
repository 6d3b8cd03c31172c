"""Stakeholders of every kind, their affiliations, preferences and consent.

A stakeholder row is the golden record: identity resolution (``cpxm.identity``) links the
departmental source records to it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base

PERSON_TYPES = (
    "hcp",
    "patient",
    "caregiver",
    "investigator",
    "site_staff",
    "employee",
)
ORGANISATION_TYPES = (
    "clinical_site",
    "hospital",
    "pharmacy",
    "wholesaler",
    "payer",
    "patient_organisation",
    "cro",
    "elderly_home",
    "regulator",
)
STAKEHOLDER_TYPES = PERSON_TYPES + ORGANISATION_TYPES
# Types whose records identify a patient (or a patient's family): the patient-identifiable domain.
PATIENT_IDENTIFIABLE_TYPES = ("patient", "caregiver")

CONSENT_PURPOSES = ("survey", "marketing", "medical_information", "safety_followup", "research")
CONSENT_STATUSES = ("granted", "withdrawn")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Stakeholder(Base):
    __tablename__ = "stakeholders"
    __table_args__ = (
        CheckConstraint("kind IN ('person', 'organisation')", name="kind"),
        CheckConstraint(f"type IN ({_in(STAKEHOLDER_TYPES)})", name="type"),
        CheckConstraint("status IN ('active', 'merged')", name="status"),
        Index("ix_stakeholders_type_country", "type", "country_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(40))
    display_name: Mapped[str] = mapped_column(String(300))
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    specialty: Mapped[str | None] = mapped_column(String(120))
    # A professional identifier where one exists (NPI, GMC, RPPS, LANR, ...).
    professional_id: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    address_line: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(120))
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"))
    language: Mapped[str | None] = mapped_column(String(8))
    birth_date: Mapped[date | None] = mapped_column(Date)
    # "active", or "merged" once identity resolution folded it into ``merged_into_id``; merged
    # records stay so a merge can be undone.
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id"))
    # For employees: the team they work in, so employee experience links to the teams that
    # serve customers.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), onupdate=func.now()
    )


class TherapeuticInterest(Base):
    __tablename__ = "stakeholder_therapeutic_interests"

    stakeholder_id: Mapped[int] = mapped_column(
        ForeignKey("stakeholders.id", ondelete="CASCADE"), primary_key=True
    )
    therapeutic_area_code: Mapped[str] = mapped_column(
        ForeignKey("therapeutic_areas.code"), primary_key=True
    )


class ChannelPreference(Base):
    """The channels a stakeholder prefers, best first (rank 1)."""

    __tablename__ = "stakeholder_channel_preferences"

    stakeholder_id: Mapped[int] = mapped_column(
        ForeignKey("stakeholders.id", ondelete="CASCADE"), primary_key=True
    )
    channel_code: Mapped[str] = mapped_column(ForeignKey("channels.code"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)


class Affiliation(Base):
    """A person's role at an organisation (an investigator at a site, a pharmacist at one)."""

    __tablename__ = "affiliations"
    __table_args__ = (UniqueConstraint("person_id", "organisation_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    role: Mapped[str] = mapped_column(String(80))
    started_on: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)


class Consent(Base):
    """One consent decision for a purpose on a channel; the latest decision per pair is in force.

    ``channel_code`` NULL means every channel.
    """

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint(f"purpose IN ({_in(CONSENT_PURPOSES)})", name="purpose"),
        CheckConstraint(f"status IN ({_in(CONSENT_STATUSES)})", name="status"),
        Index("ix_consents_stakeholder_purpose", "stakeholder_id", "purpose", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stakeholder_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channels.code"))
    status: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(80))  # the system or form the decision came from
