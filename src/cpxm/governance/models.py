"""The RACI matrix: one row per (activity, scope, letter, party).

A scope field left NULL matches anything; the most specific matching rows win, so a matrix can
say "oncology in Germany goes to this team, the rest of Germany to that one".
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base

ACTIVITIES = (
    "detractor_followup",
    "complaint",
    "medical_inquiry",
    "safety_case",
    "survey_approval",
    "journey_ownership",
)
LETTERS = ("R", "A", "C", "I")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class RaciAssignment(Base):
    __tablename__ = "raci_assignments"
    __table_args__ = (
        CheckConstraint(f"activity IN ({_in(ACTIVITIES)})", name="activity"),
        CheckConstraint(f"letter IN ({_in(LETTERS)})", name="letter"),
        # Exactly one party: a team or a person.
        CheckConstraint("(team_id IS NULL) <> (user_id IS NULL)", name="one_party"),
        Index("ix_raci_assignments_activity_letter", "activity", "letter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity: Mapped[str] = mapped_column(String(40))
    letter: Mapped[str] = mapped_column(String(1))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"))
    therapeutic_area_code: Mapped[str | None] = mapped_column(ForeignKey("therapeutic_areas.code"))
    stakeholder_type: Mapped[str | None] = mapped_column(String(40))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
