"""What the demo generator knows that the product must find out: its ground truth."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class DemoRun(Base):
    """One generated demo workspace and its manifest of planted effects."""

    __tablename__ = "demo_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    seed: Mapped[int] = mapped_column(Integer)
    scale: Mapped[float] = mapped_column(Float)
    generated_at: Mapped[datetime] = mapped_column(DateTime)
    manifest: Mapped[dict[str, Any]] = mapped_column()


class DemoSourceTruth(Base):
    """The true person behind each silo record: the answer key for identity resolution.

    ``true_stakeholder_id`` is the generator's id of that person, not a ``stakeholders`` row:
    stakeholders are the golden records identity resolution made from the imported silos.
    The person's true name, birth date and e-mail (before any system's typos, nicknames or
    capitals) score the golden records' attributes; an organisation has only its id.
    """

    __tablename__ = "demo_source_truth"

    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id", ondelete="CASCADE"), primary_key=True
    )
    true_stakeholder_id: Mapped[int] = mapped_column(Integer, index=True)
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    birth_date: Mapped[date | None] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(320))
