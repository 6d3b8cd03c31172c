"""Journey definitions: ordered stages, with the moments of truth marked."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class Journey(Base):
    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    stakeholder_type: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)


class JourneyStage(Base):
    __tablename__ = "journey_stages"
    __table_args__ = (UniqueConstraint("journey_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    is_moment_of_truth: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the stakeholder expects at this stage, in their words; experience is measured against it.
    expectation: Mapped[str | None] = mapped_column(Text)
