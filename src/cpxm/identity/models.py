"""Source records as each departmental system knows someone, and how identity resolution
linked them: runs, uncertain pairs and decisions, merges (undoable) and attribute provenance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
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


PAIR_STATUSES = ("pending", "accepted", "rejected")
MERGE_REASONS = ("auto", "review", "manual")


class ResolutionRun(Base):
    """One ``cpxm resolve``: its thresholds and what it changed, so re-runs can be compared."""

    __tablename__ = "identity_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    threshold_match: Mapped[float] = mapped_column(Float)
    threshold_review: Mapped[float] = mapped_column(Float)
    records: Mapped[int] = mapped_column(Integer, default=0)
    pairs_scored: Mapped[int] = mapped_column(Integer, default=0)
    merges: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    review_pairs: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    # Hash of the inputs (records, thresholds, decisions): an unchanged input is not re-scored.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # How the store's person records write names (``cpxm.identity.standardise``): the evidence
    # survivorship used, kept so that a merge decided later chooses with the same.
    name_population: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class MatchPair(Base):
    """Two source records the model was unsure about, or a person's decision about them.

    ``record_low_id < record_high_id`` so a pair has one row. Rejected pairs are never linked
    again; accepted pairs are always linked, whatever a later model says.
    """

    __tablename__ = "identity_match_pairs"
    __table_args__ = (
        UniqueConstraint("record_low_id", "record_high_id"),
        CheckConstraint("record_low_id < record_high_id", name="ordered"),
        CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="status"),
        Index("ix_identity_match_pairs_status_probability", "status", "match_probability"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_low_id: Mapped[int] = mapped_column(ForeignKey("source_records.id", ondelete="CASCADE"))
    record_high_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id", ondelete="CASCADE"), index=True
    )
    match_probability: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # The two declared types when they must not be linked unasked (``"patient vs hcp"``); an
    # employee with anyone else cannot be accepted at all.
    type_conflict: Mapped[str | None] = mapped_column(String(60))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("identity_runs.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class MergeEvent(Base):
    """One stakeholder folded into another, with every row that moved, so it can be undone.

    ``moved`` is ``{"tables": [{"table", "column", "moved": [pk...], "deleted": [row...]}],
    "source_records": [ids]}``; ``survivor_before`` holds the survivor's attributes and
    provenance as they were, restored exactly when this is its latest merge.
    """

    __tablename__ = "identity_merges"
    __table_args__ = (CheckConstraint("reason IN ('auto', 'review', 'manual')", name="reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("identity_runs.id"))
    match_pair_id: Mapped[int | None] = mapped_column(ForeignKey("identity_match_pairs.id"))
    # The two records whose link joined the groups: rejected on undo so they stay apart.
    record_low_id: Mapped[int | None] = mapped_column(Integer)
    record_high_id: Mapped[int | None] = mapped_column(Integer)
    moved: Mapped[dict[str, Any]] = mapped_column()
    survivor_before: Mapped[dict[str, Any]] = mapped_column()
    merged_at: Mapped[datetime] = mapped_column(DateTime)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)


class AttributeProvenance(Base):
    """Where a golden record's attribute came from, which survivorship rule chose it and why."""

    __tablename__ = "identity_attribute_provenance"
    __table_args__ = (
        CheckConstraint(
            "rule IN ('only_source', 'agreement', 'trust', 'recency', 'completeness')",
            name="rule",
        ),
    )

    stakeholder_id: Mapped[int] = mapped_column(
        ForeignKey("stakeholders.id", ondelete="CASCADE"), primary_key=True
    )
    attribute: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(20))
    # Why the rule chose this value, for a steward: "agreement 3 of 4", "most trusted source",
    # and what standardisation corrected (which can run long).
    reason: Mapped[str] = mapped_column(Text)
