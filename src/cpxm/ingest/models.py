"""Import runs, the rows they could not take, the values they blanked, and the ledger that
makes imports idempotent."""

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
    # About how many rows the file holds, counted before a queued run starts (its page shows
    # progress against it); None when it could not be told cheaply.
    rows_expected: Mapped[int | None] = mapped_column(Integer)


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


class DataQualityIssue(Base):
    """A value an import could not read and blanked, storing the row without it.

    The row's other values were stored (a person without a birth date is still a person
    identity resolution can see); the issue keeps what the source said and why it was refused,
    for a steward to correct at the source.
    """

    __tablename__ = "data_quality_issues"
    __table_args__ = (
        Index("ix_data_quality_issues_status_run", "status", "import_run_id"),
        Index("ix_data_quality_issues_source_key_status", "source_key", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"))
    row_number: Mapped[int] = mapped_column(Integer)
    # The row's source id: a later import of it closes this issue (superseded when the value is
    # still unreadable, resolved when it is not), so the open list never repeats a problem.
    source_key: Mapped[str] = mapped_column(String(200))
    # The record the row was stored as (the target's id: a source record, an interaction, ...).
    entity_id: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(60))
    column: Mapped[str] = mapped_column(String(300))
    value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # open, superseded, resolved
    created_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
