"""Shared set-up for initiative tests: a Kano survey, an NPS survey with a driver, feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem, FeedbackTheme
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Answer, Question, Response, Survey
from cpxm.surveys.service import save_definition

AS_OF = datetime(2025, 6, 30, 12, 0)


def kano_survey(session: Session, features: tuple[str, ...] = ("portal", "quiz")) -> Survey:
    document: dict[str, Any] = {
        "code": "features",
        "name": "What should we build?",
        "status": "active",
        "pages": [
            {
                "questions": [
                    {
                        "code": code,
                        "type": "kano",
                        "prompt": f"Feature {code}",
                        "functional": f"If we offered {code}, how would you feel?",
                        "dysfunctional": f"If we did not offer {code}, how would you feel?",
                    }
                    for code in features
                ]
            }
        ],
    }
    return save_definition(session, document=document).survey


def nps_survey(session: Session) -> Survey:
    document = {
        "code": "relationship",
        "name": "Relationship",
        "status": "active",
        "pages": [
            {
                "questions": [
                    {"code": "nps", "type": "nps", "prompt": "Recommend us?"},
                    {"code": "speed", "type": "rating", "prompt": "We answer fast.", "min": 1,
                     "max": 5},
                ]
            }
        ],
    }  # fmt: skip
    return save_definition(session, document=document).survey


def questions(session: Session, survey: Survey) -> dict[str, Question]:
    return {
        q.code: q for q in session.scalars(select(Question).where(Question.survey_id == survey.id))
    }


def answer(
    session: Session,
    *,
    survey: Survey,
    stakeholder: Stakeholder,
    at: datetime,
    numbers: dict[Question, float] | None = None,
    kano: dict[Question, tuple[str, str]] | None = None,
) -> Response:
    from cpxm.surveys.definition import kano_category

    response = Response(
        survey_id=survey.id, survey_version=survey.version, stakeholder_id=stakeholder.id,
        language="en", status="complete", started_at=at, submitted_at=at,
    )  # fmt: skip
    session.add(response)
    session.flush()
    for question, value in (numbers or {}).items():
        session.add(Answer(response_id=response.id, question_id=question.id, value_number=value))
    for question, (functional, dysfunctional) in (kano or {}).items():
        session.add(
            Answer(
                response_id=response.id, question_id=question.id,
                value_text=kano_category(functional, dysfunctional),
                value_choices=[functional, dysfunctional],
            )
        )  # fmt: skip
    session.flush()
    return response


def feedback(
    session: Session, *, stakeholder: Stakeholder, at: datetime, themes: tuple[str, ...],
    text: str = "Samples never arrive on time.", sentiment: str = "negative",
) -> FeedbackItem:  # fmt: skip
    item = FeedbackItem(
        source_kind="web_form", text=text, stakeholder_id=stakeholder.id, received_at=at,
        analysis_status="done",
    )  # fmt: skip
    session.add(item)
    session.flush()
    session.add(
        FeedbackAnalysis(
            feedback_item_id=item.id, sentiment_label=sentiment,
            sentiment_score=-0.6 if sentiment == "negative" else 0.5, themes=list(themes),
            redacted_text=text, analysed_at=at,
        )
    )  # fmt: skip
    session.add_all(FeedbackTheme(feedback_item_id=item.id, theme_code=code) for code in themes)
    session.flush()
    return item
