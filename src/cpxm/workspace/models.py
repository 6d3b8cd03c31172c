"""The workspace taxonomy, people who sign in, and the audit log.

Taxonomy tables use their ``code`` as the primary key: imports, value maps, the API and the
analytics all speak in codes ("face_to_face", "medical_affairs"), so no join is needed to read one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class TherapeuticArea(Base):
    __tablename__ = "therapeutic_areas"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class LifecyclePhase(Base):
    __tablename__ = "lifecycle_phases"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)


class Product(Base):
    __tablename__ = "products"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    generic_name: Mapped[str | None] = mapped_column(String(200))
    therapeutic_area_code: Mapped[str] = mapped_column(ForeignKey("therapeutic_areas.code"))
    lifecycle_phase_code: Mapped[str] = mapped_column(ForeignKey("lifecycle_phases.code"))


class Country(Base):
    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # ISO 3166-1 alpha-2
    name: Mapped[str] = mapped_column(String(200))
    default_language: Mapped[str] = mapped_column(String(8))  # BCP 47, e.g. "de"


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Channel(Base):
    __tablename__ = "channels"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # "personal" (a person from the company is there), "remote" (a person, at a distance) or
    # "digital" (no person): contact-pressure rules weigh them differently.
    kind: Mapped[str] = mapped_column(String(20))


class Team(Base):
    """A team is a department in a country for a therapeutic area; any part may be open (NULL)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"))
    therapeutic_area_code: Mapped[str | None] = mapped_column(ForeignKey("therapeutic_areas.code"))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    # Brute-force protection: failures since the last good sign-in, and until when it is locked.
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The identity provider's subject, once the person has signed in by single sign-on.
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)


class AuditLogEntry(Base):
    """Who did what to which record, when and why; append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now(), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))  # create, update, delete, read, merge, ...
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column()


class Notification(Base):
    """An in-app message for one user (and, where email is configured, the email sent for it)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime)
    email_error: Mapped[str | None] = mapped_column(Text)


class WorkspaceSetting(Base):
    """One setting of the workspace an admin decides (the minimum cell size of aggregates), or a
    secret the store keeps so it survives restarts (the key of patient pseudonyms)."""

    __tablename__ = "workspace_settings"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ScheduledRun(Base):
    """When a periodic job last ran, and for which slot: the one place every worker process asks
    "is this run mine?", so a job scheduled by each of several workers runs once per slot
    (:func:`cpxm.jobs.periodic`)."""

    __tablename__ = "scheduled_runs"

    task: Mapped[str] = mapped_column(String(120), primary_key=True)
    # The minute the schedule fired in that the last run stood for (migration 0036).
    last_slot: Mapped[datetime | None] = mapped_column(DateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Copies another worker's scheduler enqueued for a period already run: absorbed, counted.
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
