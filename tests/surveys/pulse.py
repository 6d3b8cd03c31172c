"""A small confidential pulse with teams of different sizes, for the confidentiality tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Invitation, Question, Response, Survey
from cpxm.workspace.models import Team
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
)

WAVES = {"2025-02": datetime(2025, 2, 3, 9, 0), "2025-05": datetime(2025, 5, 5, 9, 0)}
# Raw words only a leak would show (the store keeps them; no route may), and the redaction
# the text analysis made of them (shown only for a team at the minimum, on the EX page).
RAW_CANARY = "PULSECANARY"
REDACTED_CANARY = "PULSEREDACTED"


@dataclass
class Pulse:
    survey: Survey
    questions: dict[str, Question]
    teams: dict[str, Team]
    employees: dict[str, list[Stakeholder]]
    customer_survey: Survey
    responses: list[Response] = field(default_factory=list)
    feedback_ids: list[int] = field(default_factory=list)
    customer_response_ids: list[int] = field(default_factory=list)


def _invite(
    session: Session, survey: Survey, person: Stakeholder, wave: str, done: bool
) -> Invitation:
    invitation = Invitation(
        survey_id=survey.id,
        stakeholder_id=person.id,
        token=secrets.token_urlsafe(16),
        channel_code="email",
        status="completed" if done else "expired",
        sent_at=WAVES[wave],
        expires_at=WAVES[wave] + timedelta(days=14),
        wave=wave,
    )
    session.add(invitation)
    session.flush()
    return invitation


def make_pulse(
    session: Session,
    sizes: dict[str, int] | None = None,
    *,
    waves: tuple[str, ...] = tuple(WAVES),
) -> Pulse:
    """Teams (name -> employees, all answering every wave), a confidential pulse with eNPS,
    tools and a comment, and customers each team served (with after-contact CSAT)."""
    sizes = sizes or {"Small team": 3, "Team Bravo": 6, "Team Charlie": 7}
    survey = make_survey(session, kind="employee_pulse", code="pulse")
    survey.confidential = True
    questions = {
        "enps": make_question(session, survey=survey, code="enps"),
        "tools": make_question(
            session, survey=survey, question_type="rating", code="tools", position=2
        ),
        "comment": make_question(
            session, survey=survey, question_type="text", code="comment", position=3
        ),
    }
    customer_survey = make_survey(session, kind="transactional", code="after_contact")
    make_question(session, survey=customer_survey, question_type="csat", code="csat")
    teams: dict[str, Team] = {}
    employees: dict[str, list[Stakeholder]] = {}
    pulse = Pulse(survey, questions, teams, employees, customer_survey)
    for name, size in sizes.items():
        team = Team(name=name, department_code="sales")
        session.add(team)
        session.flush()
        teams[name] = team
        employees[name] = [
            make_stakeholder(
                session, type="employee", display_name=f"Employee {name} {i}", team_id=team.id
            )
            for i in range(size)
        ]
    for wave in waves:
        answer_wave(session, pulse, wave)
    return pulse


def answer_wave(session: Session, pulse: Pulse, wave: str, *, tools_shift: int = 0) -> None:
    """Every employee answers ``wave``; their teams' customers answer after-contact CSAT."""
    sent = WAVES[wave]
    questions = pulse.questions
    customer = make_stakeholder(session, type="hcp", display_name=f"Dr Open Customer {wave}")
    csat = session.scalars(
        select(Question).where(Question.survey_id == pulse.customer_survey.id)
    ).one()
    for index, (name, people) in enumerate(pulse.employees.items()):
        for number, person in enumerate(people):
            invitation = _invite(session, pulse.survey, person, wave, done=True)
            words = f"{RAW_CANARY}-{name}-{number} my manager Herr Quast"
            response = make_response(
                session,
                survey=pulse.survey,
                stakeholder=person,
                started_at=sent + timedelta(hours=2 + number),
                answers={
                    questions["enps"]: (number * 3 + index) % 11,
                    questions["tools"]: min(5, 1 + (number + index) % 5 + tools_shift),
                    questions["comment"]: words,
                },
            )
            response.invitation_id = invitation.id
            pulse.responses.append(response)
            item = FeedbackItem(
                source_kind="survey_comment",
                text=words,
                stakeholder_id=person.id,
                received_at=sent + timedelta(hours=2 + number),
                response_id=response.id,
                analysis_status="done",
            )
            session.add(item)
            session.flush()
            session.add(
                FeedbackAnalysis(
                    feedback_item_id=item.id,
                    sentiment_label="negative",
                    sentiment_score=-0.6,
                    themes=["responsiveness"],
                    redacted_text=f"{REDACTED_CANARY}-{name} my manager <PERSON>",
                    pii_kinds=["PERSON"],
                    safety_kinds=[],
                    safety_contexts=[],
                    safety_mentions=[],
                    analysed_at=sent + timedelta(hours=3),
                )
            )
            pulse.feedback_ids.append(item.id)
            # The team serves a customer; the contact triggers an after-contact CSAT.
            contact = make_interaction(
                session,
                stakeholder=customer,
                occurred_at=sent + timedelta(days=3, hours=number),
                employee_id=person.id,
            )
            trigger = Invitation(
                survey_id=csat.survey_id,
                stakeholder_id=customer.id,
                token=secrets.token_urlsafe(16),
                channel_code="email",
                status="completed",
                sent_at=contact.occurred_at + timedelta(days=1),
                trigger_interaction_id=contact.id,
            )
            session.add(trigger)
            session.flush()
            answered = make_response(
                session,
                survey=pulse.customer_survey,
                stakeholder=customer,
                started_at=contact.occurred_at + timedelta(days=2),
                answers={csat: 1 + (number + index) % 5},
            )
            answered.invitation_id = trigger.id
            pulse.customer_response_ids.append(answered.id)
    session.flush()
