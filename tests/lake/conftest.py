"""The small store the lake tests export: people, touchpoints with notes, a survey with a
comment, a confidential pulse, feedback and cases, every kind of row the lake must handle."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from cpxm.access.principal import Principal
from cpxm.access.roles import Role
from cpxm.auth.service import create_user
from cpxm.cases.models import Case
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)


def principal_of(session: Session, role: Role) -> Principal:
    user = create_user(
        session, email=f"{role.value}-{uuid.uuid4().hex[:8]}@lake.example", role=role.value
    )
    return Principal(
        user_id=user.id,
        email=user.email,
        display_name=user.email,
        role=role,
        method="token",
    )


@pytest.fixture
def store(session: Session) -> dict[str, object]:
    make_taxonomy(session)
    hcp = make_stakeholder(session, display_name="Dr Anna Herrmann", email="anna@clinic.example")
    patient = make_stakeholder(session, type="patient", display_name="Paul Patient")
    for day in range(1, 26):
        make_interaction(
            session,
            stakeholder=hcp if day % 2 else patient,
            occurred_at=datetime(2025, 3, day, 9, 0),
            notes="Dr Herrmann asked about the dosing in renal impairment",
        )
    survey = make_survey(session, code="hcp_rel")
    nps = make_question(session, survey=survey, question_type="nps", code="nps")
    comment = make_question(session, survey=survey, question_type="text", code="comment")
    response = make_response(
        session, survey=survey, stakeholder=hcp, answers={nps: 3, comment: "Rep never listens"}
    )
    pulse = make_survey(session, kind="employee_pulse", code="pulse")
    pulse.confidential = True
    enps = make_question(session, survey=pulse, question_type="nps", code="enps")
    employee = make_stakeholder(session, type="employee", display_name="Eve Employee")
    make_response(session, survey=pulse, stakeholder=employee, answers={enps: 0})
    item = FeedbackItem(
        source_kind="survey_comment",
        text="Rep never listens",
        stakeholder_id=hcp.id,
        received_at=datetime(2025, 3, 2),
        response_id=response.id,
        analysis_status="done",
    )
    session.add(item)
    session.flush()
    session.add(
        FeedbackAnalysis(
            feedback_item_id=item.id,
            sentiment_label="negative",
            sentiment_score=-0.7,
            themes=["rep_quality"],
            analysed_at=datetime(2025, 3, 2),
        )
    )
    for case_type in ("detractor", "medical_inquiry"):
        session.add(
            Case(
                case_type=case_type,
                status="open",
                priority="normal",
                title=f"Dr Herrmann: {case_type}",
                description="She is upset",
                stakeholder_id=hcp.id,
                opened_at=datetime(2025, 3, 3),
            )
        )
    session.flush()
    return {"hcp": hcp, "patient": patient, "employee": employee}
