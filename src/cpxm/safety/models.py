"""Safety cases in the PV queue, and the trail of what happened to each.

A case is opened for every reportable safety kind (``ae``, ``pc``, ``srs``) found in a feedback
item: one case per item and kind, so a complaint about a leaking pen that also hurt the patient
reaches both quality and PV. Its clock (``due_at``) is one business day after first awareness in
the reporter's country. ``created_at`` is when the case reached the PV queue (forwarded to PV);
``exported_at`` when it first left CPXM for the safety database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base

CASE_KINDS = ("ae", "pc", "srs")
CASE_STATUSES = ("open", "acknowledged", "confirmed", "rejected")


class SafetyCase(Base):
    __tablename__ = "safety_cases"
    __table_args__ = (
        UniqueConstraint("feedback_item_id", "kind"),
        CheckConstraint("kind IN ('ae', 'pc', 'srs')", name="kind"),
        CheckConstraint(
            "status IN ('open', 'acknowledged', 'confirmed', 'rejected')", name="status"
        ),
        Index("ix_safety_cases_status_due_at", "status", "due_at"),
        CheckConstraint("seriousness_level IN (0, 1, 2)", name="seriousness_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    subtypes: Mapped[list[str]] = mapped_column(JSON)  # adverse_event, packaging, pregnancy, ...
    verbatim: Mapped[str] = mapped_column(Text)  # the reporter's words, unredacted (PV only)
    product_code: Mapped[str | None] = mapped_column(ForeignKey("products.code"))
    product_written: Mapped[str | None] = mapped_column(String(200))  # as the text spells it
    event_terms: Mapped[list[str]] = mapped_column(JSON)  # the words that describe the event
    context: Mapped[str] = mapped_column(String(20))  # affirmed, other_person, historical
    mentions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The four elements of a valid case, present or missing.
    has_patient: Mapped[bool] = mapped_column(Boolean)
    has_reporter: Mapped[bool] = mapped_column(Boolean)
    has_product: Mapped[bool] = mapped_column(Boolean)
    has_event: Mapped[bool] = mapped_column(Boolean)
    reporter_stakeholder_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id"))
    # Who reported, copied here when the reporter's record is erased: PV must still be able to
    # follow up (GDPR Art. 17(3)); only the safety domain reads safety cases.
    reporter_identity: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source_kind: Mapped[str] = mapped_column(String(40))
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"), index=True)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"), index=True)
    # A study is named by its investigational product's code (products in the clinical phase).
    study_code: Mapped[str | None] = mapped_column(String(40), index=True)
    country_code: Mapped[str | None] = mapped_column(String(2))
    aware_at: Mapped[datetime] = mapped_column(DateTime)  # first awareness by the company
    due_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="open")
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    exported_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Item 4: asked on the survey's thank-you page; None until the respondent answers.
    contact_permission: Mapped[bool | None] = mapped_column(Boolean)
    contact_permission_at: Mapped[datetime | None] = mapped_column(DateTime)
    # ``screening`` when the detector opened it; ``pv`` when a PV officer opened it by hand
    # (from the triage list or any feedback item), with the reason in the ``opened`` event.
    origin: Mapped[str] = mapped_column(String(20), default="screening", server_default="screening")
    # ICH E2A seriousness: the criteria (``cpxm.safety.seriousness``), suggested by screening
    # and confirmed or corrected by PV (``seriousness_by``); level 2 fatal or life-threatening,
    # 1 serious, 0 not. The queue reads serious cases first.
    seriousness: Mapped[list[str]] = mapped_column(JSON, default=list)
    seriousness_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seriousness_by: Mapped[str] = mapped_column(
        String(20), default="screening", server_default="screening"
    )
    # The hand-off to the safety database: due 7 / 15 / N calendar days from awareness (None for
    # product complaints, which go to Quality); done when PV records the safety database's id.
    handoff_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    handed_off_at: Mapped[datetime | None] = mapped_column(DateTime)
    safety_db_reference: Mapped[str | None] = mapped_column(String(100))
    # A later report of the same reporter, product and event is a follow-up: a new version of
    # the first (``follow_up_of``, version 2, 3, ...), not a new case.
    follow_up_of: Mapped[int | None] = mapped_column(ForeignKey("safety_cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Product complaints: the lot or batch number, when the reporter gave one.
    lot_number: Mapped[str | None] = mapped_column(String(60))


class SafetyCaseEvent(Base):
    """Append-only trail: opened, acknowledged, escalated, confirmed, rejected, exported, ..."""

    __tablename__ = "safety_case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("safety_cases.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# Why a mention opened no case: cpxm.text.safety.NOT_REPORTABLE_REASONS, kept here too so the
# models load without the text pipeline (a test holds the two equal).
TRIAGE_REASONS = (
    "negated",
    "hypothetical",
    "other_person",
    "historical",
    "treated_condition",
    "low_confidence",
)
TRIAGE_STATUSES = ("pending", "dismissed", "case_opened")


class SafetyTriageItem(Base):
    """A safety mention that opened no case, waiting for a PV officer's look.

    One row per feedback item and kind whose mentions were all judged not reportable (negated,
    hypothetical, about another person, historical, the condition being treated, or too
    uncertain), so no mention is silently dropped: PV either opens a case from it or
    dismisses it with a reason.
    """

    __tablename__ = "safety_triage"
    __table_args__ = (
        UniqueConstraint("feedback_item_id", "kind"),
        CheckConstraint("kind IN ('ae', 'pc', 'srs')", name="kind"),
        CheckConstraint("status IN ('pending', 'dismissed', 'case_opened')", name="status"),
        Index("ix_safety_triage_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(20), index=True)  # the first of ``reasons``
    reasons: Mapped[list[str]] = mapped_column(JSON)
    sentence: Mapped[str] = mapped_column(Text)  # the sentence the mention is in (PV only)
    term: Mapped[str] = mapped_column(String(200))
    product_code: Mapped[str | None] = mapped_column(ForeignKey("products.code"), index=True)
    product_written: Mapped[str | None] = mapped_column(String(200))
    source_kind: Mapped[str] = mapped_column(String(40), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    mentions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("safety_cases.id"))
