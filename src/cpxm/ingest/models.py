"""Import runs, the rows they could not take, and the ledger that makes imports idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class ImportRun(Base):
    """One import of one file (or pushed batch) through one mapping."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(40))
    mapping_name: Mapped[str] = mapped_column(String(120))
    # The mapping as validated, so quarantined rows can be corrected and replayed without it.
    mapping: Mapped[dict[str, Any]] = mapped_column()
    file_name: Mapped[str | None] = mapped_column(String(500))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    # queued (an upload waiting for a worker), running (or killed while running), completed,
    # failed (``error`` says why)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_created: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)


class QuarantinedRow(Base):
    """A row an import could not store, with the reason a person can act on."""

    __tablename__ = "quarantined_rows"
    __table_args__ = (
        Index("ix_quarantined_rows_status_run", "status", "import_run_id"),
        Index("ix_quarantined_rows_source_key_status", "source_key", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"))
    row_number: Mapped[int] = mapped_column(Integer)
    # The row's source id, when it could be read: a later import of the same id closes this row
    # (superseded if quarantined again, resolved if stored), so the open list never repeats.
    source_key: Mapped[str | None] = mapped_column(String(200))
    raw: Mapped[dict[str, Any]] = mapped_column()  # the row as read, column -> value
    reason: Mapped[str] = mapped_column(Text)
    # open, replayed, discarded, superseded, resolved
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)


class ImportLedgerEntry(Base):
    """The record an imported row became, and a hash of what it said.

    Importing the same row again finds its entry: same hash means unchanged, another hash means
    update. Written in the same transaction as the record, so a killed import never leaves a
    record without its entry (or the reverse).
    """

    __tablename__ = "import_ledger"
    __table_args__ = (UniqueConstraint("target", "source_system", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(40))
    source_system: Mapped[str] = mapped_column(String(60))
    source_id: Mapped[str] = mapped_column(String(200))
    entity_id: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    import_run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"))
