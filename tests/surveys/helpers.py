"""A survey with every question type, and ways to put respondents in front of it."""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.definition import load_definition_file
from cpxm.surveys.models import Invitation, Survey, SurveyLink
from cpxm.surveys.responding import new_token
from cpxm.surveys.service import save_definition
from cpxm.timeutil import utc_now
from tests.factories import make_stakeholder, make_taxonomy

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "survey-hcp-pulse.yaml"

# Answers to all ten questions, as the JSON path takes them.
FULL_ANSWERS: dict[str, Any] = {
    "nps": 4,
    "reason": "Reps visit too often.",
    "detractor_followup": "yes",
    "csat": 3,
    "ces": 5,
    "information_quality": 4,
    "channels": ["email", "webinar"],
    "services": {"portal": 4, "samples": 2},
    "portal_chat": {"functional": "like", "dysfunctional": "neutral"},
    "nurse_access": "usually",
}


def example_document() -> dict[str, Any]:
    return deepcopy(load_definition_file(EXAMPLE))


def make_example_survey(session: Session, **changes: Any) -> Survey:
    document = example_document()
    document.update(changes)
    return save_definition(session, document=document).survey


def make_invitation(
    session: Session,
    survey: Survey,
    stakeholder: Stakeholder | None = None,
    *,
    expires_at: datetime | None = None,
    channel: str = "email",
) -> Invitation:
    stakeholder = stakeholder or make_stakeholder(
        session, first_name="Ada", last_name="Lovelace", language="en"
    )
    invitation = Invitation(
        survey_id=survey.id,
        stakeholder_id=stakeholder.id,
        token=new_token(),
        channel_code=channel,
        status="sent",
        sent_at=utc_now(),
        expires_at=expires_at or utc_now() + timedelta(days=14),
        wave="test",
    )
    session.add(invitation)
    session.flush()
    return invitation


def make_open_link(session: Session, survey: Survey, **fields: Any) -> SurveyLink:
    link = SurveyLink(survey_id=survey.id, token=new_token(), label="Congress booth", **fields)
    session.add(link)
    session.flush()
    return link


def setup_survey(session: Session) -> Survey:
    make_taxonomy(session)
    return make_example_survey(session)
