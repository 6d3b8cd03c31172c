"""Source records: what each departmental system knows about someone, kept as it came."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class SourceRecord(Base):
    """One record in one source system. ``stakeholder_id`` is set once identity is resolved."""

    __tablename__ = "source_records"
    __table_args__ = (UniqueConstraint("source_system", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(60))
    source_id: Mapped[str] = mapped_column(String(120))
    stakeholder_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column()
    imported_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
