"""What an erasure leaves behind: the fact that it happened, why, by whom, and what it touched."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class Erasure(Base):
    """One person erased (GDPR Art. 17). The row names the golden record's id only: the
    record it points to holds no identity any more, so this is proof of erasure, not a copy."""

    __tablename__ = "privacy_erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    stakeholder_id: Mapped[int] = mapped_column(Integer, ForeignKey("stakeholders.id"), index=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime)
    erased_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    # Rows changed or deleted per table, so the data-protection officer can answer "what went".
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class Objection(Base):
    """A person's objection to processing based on legitimate interest (GDPR Art. 21): while it
    stands (``withdrawn_at`` is NULL), they are left out of profiling lists and survey
    audiences; a withdrawal ends it and is kept with its own reason."""

    __tablename__ = "privacy_objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    stakeholder_id: Mapped[int] = mapped_column(Integer, ForeignKey("stakeholders.id"), index=True)
    objected_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
