"""Typed factories for test data: each builds real rows with the ORM and flushes.

``make_taxonomy`` gives the small, fixed workspace taxonomy most tests need; the other factories
take what a test cares about as keywords and fill the rest with plausible values.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import (
    ORGANISATION_TYPES,
    Affiliation,
    ChannelPreference,
    Stakeholder,
    TherapeuticInterest,
)
from cpxm.surveys.models import Answer, Question, Response, Survey
from cpxm.workspace.models import (
    Channel,
    Country,
    Department,
    LifecyclePhase,
    Product,
    TherapeuticArea,
)

_sequence = itertools.count(1)


@dataclass(frozen=True)
class Taxonomy:
    therapeutic_areas: list[str]
    lifecycle_phases: list[str]
    products: list[str]
    countries: list[str]
    departments: list[str]
    channels: list[str]


def make_taxonomy(session: Session) -> Taxonomy:
    """Two therapeutic areas, three phases, two products, two countries, departments, channels."""
    areas = {"oncology": "Oncology", "immunology": "Immunology"}
    phases = {"preclinical": "Preclinical", "clinical": "Clinical", "commercial": "Commercial"}
    products = {"onco_x": ("Oncox", "oncology"), "immu_y": ("Immuny", "immunology")}
    countries = {"DE": ("Germany", "de"), "FR": ("France", "fr")}
    departments = {
        "sales": "Sales",
        "medical_affairs": "Medical Affairs",
        "patient_services": "Patient Services",
    }
    channels = {
        "face_to_face": ("Face to face", "personal"),
        "email": ("Email", "digital"),
        "phone": ("Phone", "remote"),
    }
    session.add_all(TherapeuticArea(code=code, name=name) for code, name in areas.items())
    session.add_all(
        LifecyclePhase(code=code, name=name, position=position)
        for position, (code, name) in enumerate(phases.items(), start=1)
    )
    session.flush()
    session.add_all(
        Product(
            code=code,
            name=name,
            therapeutic_area_code=area,
            lifecycle_phase_code="commercial",
        )
        for code, (name, area) in products.items()
    )
    session.add_all(
        Country(code=code, name=name, default_language=language)
        for code, (name, language) in countries.items()
    )
    session.add_all(Department(code=code, name=name) for code, name in departments.items())
    session.add_all(
        Channel(code=code, name=name, kind=kind) for code, (name, kind) in channels.items()
    )
    session.flush()
    return Taxonomy(
        therapeutic_areas=list(areas),
        lifecycle_phases=list(phases),
        products=list(products),
        countries=list(countries),
        departments=list(departments),
        channels=list(channels),
    )


def make_stakeholder(
    session: Session,
    *,
    type: str = "hcp",
    display_name: str | None = None,
    country_code: str | None = None,
    specialty: str | None = None,
    therapeutic_areas: tuple[str, ...] = (),
    channel_preferences: tuple[str, ...] = (),
    **fields: Any,
) -> Stakeholder:
    """A stakeholder (``kind`` follows ``type``) with interests, and preferences in rank order."""
    number = next(_sequence)
    kind = "organisation" if type in ORGANISATION_TYPES else "person"
    stakeholder = Stakeholder(
        kind=kind,
        type=type,
        display_name=display_name or f"{type.title()} {number}",
        country_code=country_code,
        specialty=specialty,
        **fields,
    )
    session.add(stakeholder)
    session.flush()
    session.add_all(
        TherapeuticInterest(stakeholder_id=stakeholder.id, therapeutic_area_code=area)
        for area in therapeutic_areas
    )
    session.add_all(
        ChannelPreference(stakeholder_id=stakeholder.id, channel_code=channel, rank=rank)
        for rank, channel in enumerate(channel_preferences, start=1)
    )
    session.flush()
    return stakeholder


def make_affiliation(
    session: Session, *, person: Stakeholder, organisation: Stakeholder, role: str = "staff"
) -> Affiliation:
    affiliation = Affiliation(person_id=person.id, organisation_id=organisation.id, role=role)
    session.add(affiliation)
    session.flush()
    return affiliation


def make_interaction(
    session: Session,
    *,
    stakeholder: Stakeholder,
    occurred_at: datetime = datetime(2025, 3, 14, 10, 0),
    channel_code: str = "email",
    department_code: str = "sales",
    interaction_type: str = "visit",
    direction: str = "outbound",
    **fields: Any,
) -> Interaction:
    interaction = Interaction(
        stakeholder_id=stakeholder.id,
        occurred_at=occurred_at,
        channel_code=channel_code,
        department_code=department_code,
        interaction_type=interaction_type,
        direction=direction,
        **fields,
    )
    session.add(interaction)
    session.flush()
    return interaction


def make_survey(
    session: Session,
    *,
    kind: str = "relationship",
    status: str = "active",
    code: str | None = None,
    name: str | None = None,
) -> Survey:
    number = next(_sequence)
    survey = Survey(
        code=code or f"survey_{number}",
        name=name or f"Survey {number}",
        kind=kind,
        status=status,
        version=1,
        default_language="en",
    )
    session.add(survey)
    session.flush()
    return survey


def make_question(
    session: Session,
    *,
    survey: Survey,
    question_type: str = "nps",
    position: int = 1,
    code: str | None = None,
    prompt: str = "How likely are you to recommend us to a colleague?",
) -> Question:
    question = Question(
        survey_id=survey.id,
        code=code or f"{question_type}_{next(_sequence)}",
        position=position,
        question_type=question_type,
        prompt=prompt,
        required=False,
    )
    session.add(question)
    session.flush()
    return question


def make_response(
    session: Session,
    *,
    survey: Survey,
    stakeholder: Stakeholder | None = None,
    status: str = "complete",
    started_at: datetime = datetime(2025, 3, 1, 9, 0),
    submitted_at: datetime | None = None,
    answers: dict[Question, float | str] | None = None,
) -> Response:
    """A response; numbers in ``answers`` go to ``value_number``, strings to ``value_text``."""
    response = Response(
        survey_id=survey.id,
        survey_version=survey.version,
        stakeholder_id=stakeholder.id if stakeholder else None,
        language="en",
        status=status,
        started_at=started_at,
        submitted_at=submitted_at if submitted_at or status != "complete" else started_at,
    )
    session.add(response)
    session.flush()
    for question, value in (answers or {}).items():
        session.add(
            Answer(
                response_id=response.id,
                question_id=question.id,
                value_number=float(value) if not isinstance(value, str) else None,
                value_text=value if isinstance(value, str) else None,
            )
        )
    session.flush()
    return response
