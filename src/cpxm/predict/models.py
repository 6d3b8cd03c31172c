"""Risk models, the scores they gave, and the outreach proposed to the people at risk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base


class PredictionModel(Base):
    """One fitted version of the risk model: its parameters (plain numbers, not a pickle, so a
    stored model can be read, audited and never executes code) and its held-out evaluation."""

    __tablename__ = "prediction_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The latest cut-off the final model learnt from, and the held-out cut-off it was tested on.
    trained_through: Mapped[datetime] = mapped_column(DateTime)
    test_cutoff: Mapped[datetime] = mapped_column(DateTime)
    examples: Mapped[int] = mapped_column(Integer)  # (stakeholder, cut-off) rows learnt from
    parameters: Mapped[dict[str, Any]] = mapped_column()
    metrics: Mapped[dict[str, Any]] = mapped_column()
    seconds: Mapped[float] = mapped_column(Float)


class PredictionScore(Base):
    """A stakeholder's risk at ``as_of`` under one model version, with its reasons."""

    __tablename__ = "prediction_scores"
    __table_args__ = (
        Index("ix_prediction_scores_model_risk", "model_id", "risk"),
        Index("ix_prediction_scores_stakeholder", "stakeholder_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("prediction_models.id"))
    stakeholder_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id"))
    as_of: Mapped[datetime] = mapped_column(DateTime)
    scored_at: Mapped[datetime] = mapped_column(DateTime)
    risk: Mapped[float] = mapped_column(Float)  # calibrated probability, 0-1
    rank: Mapped[int] = mapped_column(Integer)  # 1 = highest risk in this scoring
    # [{"feature": ..., "text": ..., "contribution": ...}], largest contribution first.
    reasons: Mapped[dict[str, Any]] = mapped_column()


class OutreachAction(Base):
    """The next best action proposed for one person at risk: one team, one channel, one topic,
    not before a date; accepted, it becomes a case of type ``proactive_outreach``."""

    __tablename__ = "outreach_actions"
    __table_args__ = (Index("ix_outreach_actions_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("prediction_scores.id"))
    stakeholder_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channels.code"))
    topic: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(DateTime)
    why: Mapped[str] = mapped_column(Text)
    # Drawn from medical-inquiry handling: behind the firewall, for medical roles only.
    medical: Mapped[bool] = mapped_column(Boolean, default=False)
    # proposed, held (a rule stops it now), accepted, dismissed, done
    status: Mapped[str] = mapped_column(String(20))
    held_reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # reached_improved, reached_no_change, not_reached
    outcome: Mapped[str | None] = mapped_column(String(40))
    proposed_at: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
