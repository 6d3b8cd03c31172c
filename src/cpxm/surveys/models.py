"""Surveys, their questions, invitations, responses and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from cpxm.db import Base

QUESTION_TYPES = (
    "nps",  # 0-10 likelihood to recommend
    "csat",  # 1-5 satisfaction
    "ces",  # 1-7 effort ("it was easy to ..."), higher is easier
    "rating",  # a scale given by options {"min": .., "max": ..}
    "single_choice",
    "multiple_choice",
    "text",
    "matrix",
    "kano",
    "prem",  # a patient-reported experience item
)
# The scale each score type is answered on; answers outside it are invalid.
SCORE_SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # relationship, transactional, patient_support, site_experience, employee_pulse, ...
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft, active, closed
    version: Mapped[int] = mapped_column(Integer, default=1)
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    audience: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    # Answers shown only as figures over groups of at least the workspace's minimum cell size,
    # never linked to a person outside the people team, never opening a case (the employee
    # pulse: cpxm.access.confidential).
    confidential: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (
        UniqueConstraint("survey_id", "code"),
        CheckConstraint(
            "question_type IN (" + ", ".join(f"'{t}'" for t in QUESTION_TYPES) + ")",
            name="question_type",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer)
    question_type: Mapped[str] = mapped_column(String(30))
    prompt: Mapped[str] = mapped_column(Text)
    # Choices, scale bounds, translations: whatever the question type needs.
    options: Mapped[dict[str, Any] | None] = mapped_column()
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    # A question a later version dropped keeps its row, so older answers still name it.
    removed_in_version: Mapped[int | None] = mapped_column(Integer)


class SurveyVersion(Base):
    """The whole definition of one version, as published; a response renders from its version."""

    __tablename__ = "survey_versions"
    __table_args__ = (UniqueConstraint("survey_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class SurveyLink(Base):
    """An anonymous open link: anyone holding it may answer, each answer its own response."""

    __tablename__ = "survey_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channels.code"))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


FATIGUE_RULE_KINDS = (
    "survey_interval",  # at most one survey invitation per N days
    "contact_pressure",  # none within N days after M or more contacts from any department
    "quiet_period",  # none between two dates of the year (optionally only in some countries)
)


class FatigueRule(Base):
    """A contact-fatigue rule every distribution applies; counts every channel and department."""

    __tablename__ = "fatigue_rules"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in FATIGUE_RULE_KINDS) + ")", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[dict[str, Any]] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text)


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_stakeholder_sent", "stakeholder_id", "sent_at"),
        # The outbox's question every minute: which emails are due (cpxm.surveys.outbox).
        Index("ix_invitations_status_next_send_at", "status", "next_send_at"),
        # One invitation per stakeholder per wave of a survey (NULL waves: triggered ones).
        UniqueConstraint("survey_id", "wave", "stakeholder_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    stakeholder_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    channel_code: Mapped[str] = mapped_column(ForeignKey("channels.code"))
    status: Mapped[str] = mapped_column(String(20))  # pending, sent, started, completed, expired
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The touchpoint that triggered a transactional survey ("3 days after an MSL visit").
    trigger_interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"))
    # The send this invitation belongs to ("2026-Q1"); NULL for triggered invitations.
    wave: Mapped[str | None] = mapped_column(String(80))
    language: Mapped[str | None] = mapped_column(String(8))
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Why the last email could not be sent, for the sender to act on; NULL once sent.
    send_error: Mapped[str | None] = mapped_column(Text)
    # Failed attempts at the email now due (reset when one is sent), and no attempt before
    # next_send_at: a worker's claim while it sends, or the back-off after a failure.
    send_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_send_at: Mapped[datetime | None] = mapped_column(DateTime)


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_survey_submitted", "survey_id", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    survey_version: Mapped[int] = mapped_column(Integer)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), unique=True)
    stakeholder_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id"), index=True)
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channels.code"))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20))  # partial, complete
    started_at: Mapped[datetime] = mapped_column(DateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    open_link_id: Mapped[int | None] = mapped_column(ForeignKey("survey_links.id"))
    # An anonymous respondent's own link to resume a partial response (open links only).
    resume_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    value_number: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    value_choices: Mapped[list[str] | None] = mapped_column()
