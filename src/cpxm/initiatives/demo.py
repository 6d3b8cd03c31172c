"""The demo's backlog: a Kano survey of portal features, five initiatives linked to the demo's
evidence, and the CX leads' maturity self-assessment.

``cpxm demo`` calls :func:`prepare_demo_initiatives` after generating the workspace. It is
deterministic (its own seeded generator) and small. The Kano answers come from HCPs who already
answered a survey in the demo's last 100 days, so no one's engagement history changes (the
silent-disengagement list reads recent responses). Each feature has a planted category, which
:data:`PLANTED` names and the tests recover.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cpxm.initiatives import maturity
from cpxm.initiatives.models import Initiative
from cpxm.initiatives.schemas import InitiativeIn
from cpxm.initiatives.service import create_initiative
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.definition import KANO_ANSWERS, kano_category
from cpxm.surveys.models import Answer, Question, Response, Survey
from cpxm.surveys.service import save_definition

KANO_SURVEY = "hcp_portal_features"
# feature code -> (what it is, the category planted for most respondents)
PLANTED = {
    "online_samples": ("Ordering samples online", "M"),
    "answer_48h": ("Medical answers within 48 hours", "O"),
    "ai_literature": ("AI literature search in the portal", "A"),
    "quiz_badges": ("Quizzes and badges", "I"),
}
PLANTED_SHARE = 0.6  # the rest answer any of the 25 pairs at random
MAX_RESPONDENTS = 240
RECENT_DAYS = 100
SHIPPED_DAYS_AGO = 75

_PAIRS_BY_CATEGORY: dict[str, list[tuple[str, str]]] = {}
for _functional in KANO_ANSWERS:
    for _dysfunctional in KANO_ANSWERS:
        _PAIRS_BY_CATEGORY.setdefault(kano_category(_functional, _dysfunctional), []).append(
            (_functional, _dysfunctional)
        )


@dataclass(frozen=True)
class DemoBacklog:
    initiatives: int
    kano_responses: int
    self_assessments: int


def _kano_definition() -> dict[str, object]:
    return {
        "code": KANO_SURVEY,
        "name": "What should the HCP portal offer?",
        "kind": "product_research",
        "status": "closed",
        "audience": {"stakeholder_types": ["hcp"]},
        "pages": [
            {
                "questions": [
                    {
                        "code": code,
                        "type": "kano",
                        "prompt": label,
                        "functional": f"If the portal offered {label.lower()}, you would ...",
                        "dysfunctional": f"If it did not offer {label.lower()}, you would ...",
                    }
                    for code, (label, _category) in PLANTED.items()
                ]
            }
        ],
    }


def _initiatives(shipped: date) -> list[InitiativeIn]:
    return [
        InitiativeIn(
            code="faster_medical_answers", title="Answer medical inquiries within 48 hours",
            problem="HCPs wait too long for answers to their medical questions; slow answers "
            "are the third driver of the relationship NPS and a frequent complaint.",
            owner="Medical information", status="in_progress", moscow="must",
            stakeholder_type="hcp", survey="hcp_relationship_nps", driver="responsiveness",
            theme="responsiveness", kano_survey=KANO_SURVEY, kano_questions=["answer_48h"],
            impact=2.0, confidence=80, effort=4,
        ),
        InitiativeIn(
            code="coordinated_contact_plan", title="One coordinated contact plan per HCP",
            problem="Several departments contact the same HCPs within days; contact relevance "
            "is rated low and communication frequency is a rising theme.",
            owner="Commercial excellence", status="planned", moscow="should",
            stakeholder_type="hcp", survey="hcp_relationship_nps", driver="contact_relevance",
            theme="communication_frequency", kano_survey=KANO_SURVEY,
            kano_questions=["online_samples"], impact=1.0, confidence=80, effort=3,
        ),
        InitiativeIn(
            code="portal_literature_search", title="AI literature search in the HCP portal",
            problem="The portal is the weakest-rated service; HCPs would welcome a literature "
            "search but do not expect it.",
            owner="Digital", status="proposed", moscow="could", stakeholder_type="hcp",
            survey="hcp_relationship_nps", driver="digital_services",
            kano_survey=KANO_SURVEY, kano_questions=["ai_literature", "quiz_badges"],
            impact=1.0, confidence=50, effort=8,
        ),
        InitiativeIn(
            code="psp_onboarding_call", title="Call every new PSP patient within 3 days",
            problem="Patients who wait for their onboarding call rate the programme lower; "
            "onboarding is a moment of truth of the PSP journey.",
            owner="Patient services", status="shipped", moscow="must", stakeholder_type="patient",
            journey="psp", stage="onboarding", theme="patient_support", target_metric="csat",
            impact=2.0, confidence=70, effort=2, shipped_on=shipped, window_days=60,
        ),
        InitiativeIn(
            code="reliable_supply", title="Warn pharmacies before a supply gap",
            problem="Supply availability is a theme of pharmacy feedback with mostly negative "
            "sentiment.",
            owner="Supply chain", status="planned", moscow="should",
            stakeholder_type="pharmacy", theme="supply_availability", target_metric="csat",
            impact=1.0, confidence=60, effort=5,
        ),
    ]  # fmt: skip


def prepare_demo_initiatives(engine: Engine, *, seed: int = 42) -> DemoBacklog:
    """Add the demo's Kano survey and answers, initiatives and self-assessments (once)."""
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(Initiative)):
            return DemoBacklog(0, 0, 0)
        latest = session.scalar(select(func.max(Response.submitted_at)))
        if latest is None:
            return DemoBacklog(0, 0, 0)
        rng = np.random.default_rng([seed, 21])
        kano = _kano_answers(session, rng, latest)
        for data in _initiatives((latest - timedelta(days=SHIPPED_DAYS_AGO)).date()):
            create_initiative(session, data=data)
        leads = _self_assessments(session, latest)
        session.commit()
    return DemoBacklog(len(_initiatives(latest.date())), kano, leads)


def _kano_answers(session: Session, rng: np.random.Generator, latest: datetime) -> int:
    survey = save_definition(session, document=_kano_definition()).survey
    questions = {
        question.code: question
        for question in session.scalars(select(Question).where(Question.survey_id == survey.id))
    }
    recent = (
        select(Response.stakeholder_id)
        .join(Survey, Survey.id == Response.survey_id)
        .where(
            Response.status == "complete",
            Response.submitted_at >= latest - timedelta(days=RECENT_DAYS),
            Survey.kind != "employee_pulse",
        )
    )
    people = list(
        session.scalars(
            select(Stakeholder.id)
            .where(Stakeholder.type == "hcp", Stakeholder.status == "active")
            .where(Stakeholder.id.in_(recent))
            .order_by(Stakeholder.id)
        )
    )[:MAX_RESPONDENTS]
    every_pair = [(f, d) for f in KANO_ANSWERS for d in KANO_ANSWERS]
    for stakeholder_id in people:
        answered = latest - timedelta(days=float(rng.uniform(5, 60)))
        response = Response(
            survey_id=survey.id, survey_version=survey.version, stakeholder_id=stakeholder_id,
            language="en", status="complete", started_at=answered,
            submitted_at=answered + timedelta(minutes=3),
        )  # fmt: skip
        session.add(response)
        session.flush()
        for code, (_label, category) in PLANTED.items():
            planted = rng.random() < PLANTED_SHARE
            choices = _PAIRS_BY_CATEGORY[category] if planted else every_pair
            functional, dysfunctional = choices[int(rng.integers(len(choices)))]
            session.add(
                Answer(
                    response_id=response.id, question_id=questions[code].id,
                    value_text=kano_category(functional, dysfunctional),
                    value_choices=[functional, dysfunctional],
                )
            )  # fmt: skip
    session.flush()
    return len(people)


SELF_ASSESSMENTS = (
    {"journeys": 2, "closed_loop": 3, "governance": 3, "insight": 2, "prediction": 1},
    {"journeys": 2, "closed_loop": 2, "governance": 3, "insight": 2, "prediction": 2},
    {"journeys": 3, "closed_loop": 3, "governance": 2, "insight": 2, "prediction": 1},
)


def _self_assessments(session: Session, latest: datetime) -> int:
    survey = maturity.install_questionnaire(session)
    questions = {
        question.code: question
        for question in session.scalars(select(Question).where(Question.survey_id == survey.id))
    }
    leads = list(
        session.scalars(
            select(Stakeholder.id)
            .where(Stakeholder.type == "employee", Stakeholder.status == "active")
            .order_by(Stakeholder.id)
            .limit(len(SELF_ASSESSMENTS))
        )
    )
    for number, (stakeholder_id, answers) in enumerate(zip(leads, SELF_ASSESSMENTS, strict=False)):
        answered = latest - timedelta(days=14 + number)
        response = Response(
            survey_id=survey.id, survey_version=survey.version, stakeholder_id=stakeholder_id,
            language="en", status="complete", started_at=answered,
            submitted_at=answered + timedelta(minutes=6),
        )  # fmt: skip
        session.add(response)
        session.flush()
        session.add_all(
            Answer(response_id=response.id, question_id=questions[code].id, value_number=value)
            for code, value in answers.items()
        )
    session.flush()
    return len(leads)
