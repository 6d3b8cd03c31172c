"""Rows for the small tables: taxonomy, journeys, survey designs, teams and users, stakeholders
with their interests, channel preferences, affiliations and consent history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from cpxm.demo.people import Person
from cpxm.demo.taxonomy import (
    CHANNELS,
    COMPANY_EMAIL_DOMAIN,
    COUNTRIES,
    DEPARTMENTS,
    HISTORY_START,
    JOURNEYS,
    LIFECYCLE_PHASES,
    PRODUCTS,
    REFERENCE_DATE,
    SURVEYS,
    TEAMS,
    THERAPEUTIC_AREAS,
    USERS,
    journey_stage_ids,
    question_ids,
)
from cpxm.demo.teams import WORK_TEAMS
from cpxm.surveys.definition import CONFIDENTIAL_BY_DEFAULT

Rows = dict[str, list[dict[str, Any]]]

PREFERRED_CHANNELS = {
    "hcp": ("email", "face_to_face", "remote_detailing", "hcp_portal", "webinar", "phone"),
    "investigator": ("email", "phone", "face_to_face", "remote_detailing"),
    "site_staff": ("email", "phone", "web_portal"),
    "patient": ("phone", "sms", "email", "web_portal", "mail"),
    "caregiver": ("phone", "email", "sms", "social"),
    "organisation": ("email", "phone", "face_to_face"),
}
CONSENT_PLAN = {
    "hcp": (("survey", "email"), ("marketing", "email"), ("medical_information", None)),
    "investigator": (("survey", "email"), ("research", None)),
    "site_staff": (("survey", "email"),),
    "patient": (
        ("survey", "email"),
        ("survey", "sms"),
        ("safety_followup", "phone"),
        ("marketing", "email"),
        ("research", None),
    ),
    "caregiver": (("survey", "email"), ("safety_followup", "phone")),
}
CONSENT_SOURCES = {
    "hcp": "crm",
    "investigator": "crm",
    "site_staff": "crm",
    "patient": "patient_support",
    "caregiver": "call_centre",
}


def taxonomy_rows() -> Rows:
    stage_ids = journey_stage_ids()
    qids = question_ids()
    rows: Rows = {
        "therapeutic_areas": [{"code": c, "name": n} for c, n in THERAPEUTIC_AREAS],
        "lifecycle_phases": [{"code": c, "name": n, "position": p} for c, n, p in LIFECYCLE_PHASES],
        "countries": [
            {"code": c.code, "name": c.name, "default_language": c.language} for c in COUNTRIES
        ],
        "departments": [{"code": c, "name": n} for c, n in DEPARTMENTS],
        "channels": [{"code": c, "name": n, "kind": k} for c, n, k in CHANNELS],
        "products": [
            {
                "code": p.code,
                "name": p.name,
                "generic_name": p.generic_name,
                "therapeutic_area_code": p.therapeutic_area,
                "lifecycle_phase_code": p.phase,
            }
            for p in PRODUCTS
        ],
        "journeys": [],
        "journey_stages": [],
        "surveys": [],
        "questions": [],
        "teams": [],
        "users": [],
    }
    for journey_id, journey in enumerate(JOURNEYS, start=1):
        rows["journeys"].append(
            {
                "id": journey_id,
                "code": journey.code,
                "name": journey.name,
                "stakeholder_type": journey.stakeholder_type,
                "description": journey.description,
            }
        )
        for position, stage in enumerate(journey.stages, start=1):
            rows["journey_stages"].append(
                {
                    "id": stage_ids[(journey.code, stage.code)],
                    "journey_id": journey_id,
                    "code": stage.code,
                    "name": stage.name,
                    "position": position,
                    "is_moment_of_truth": stage.moment_of_truth,
                    "expectation": stage.expectation,
                }
            )
    for survey_id, survey in enumerate(SURVEYS, start=1):
        rows["surveys"].append(
            {
                "id": survey_id,
                "code": survey.code,
                "name": survey.name,
                "kind": survey.kind,
                "status": "active",
                "version": 1,
                "default_language": "en",
                "audience": survey.audience,
                "created_at": HISTORY_START - timedelta(days=30),
                # The pulse promises its employees that nobody reads their answers one by one.
                "confidential": survey.kind in CONFIDENTIAL_BY_DEFAULT,
            }
        )
        for position, question in enumerate(survey.questions, start=1):
            rows["questions"].append(
                {
                    "id": qids[(survey.code, question.code)],
                    "survey_id": survey_id,
                    "code": question.code,
                    "position": position,
                    "question_type": question.question_type,
                    "prompt": question.prompt,
                    "options": question.options,
                    "required": question.required,
                }
            )
    team_ids = {}
    every_team = [*TEAMS, *((name, dept, country, None) for name, dept, country in WORK_TEAMS)]
    for team_id, (name, department, country, area) in enumerate(every_team, start=1):
        team_ids[name] = team_id
        rows["teams"].append(
            {
                "id": team_id,
                "name": name,
                "department_code": department,
                "country_code": country,
                "therapeutic_area_code": area,
            }
        )
    for user_id, (login, name, role, team) in enumerate(USERS, start=1):
        rows["users"].append(
            {
                "id": user_id,
                "email": f"{login}@{COMPANY_EMAIL_DOMAIN}",
                "display_name": name,
                "role": role,
                "password_hash": None,
                "team_id": team_ids[team],
                "is_active": True,
                "created_at": HISTORY_START - timedelta(days=30),
                "failed_sign_ins": 0,
            }
        )
    return rows


def people_rows(people: list[Person], seed: int) -> Rows:
    """Stakeholders and their profile tables, in id order."""
    rng = np.random.default_rng([seed, 2])
    rows: Rows = {
        "stakeholders": [],
        "stakeholder_therapeutic_interests": [],
        "stakeholder_channel_preferences": [],
        "affiliations": [],
        "consents": [],
    }
    for person in people:
        rows["stakeholders"].append(
            {
                "id": person.id,
                "kind": person.kind,
                "type": person.type,
                "display_name": person.display_name,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "specialty": person.specialty,
                "professional_id": person.professional_id,
                "email": person.email,
                "phone": person.phone,
                "address_line": person.address_line,
                "postal_code": person.postal_code,
                "city": person.city,
                "country_code": person.country_code,
                "language": person.language,
                "birth_date": person.birth_date,
                "status": "active",
                "created_at": person.created_at,
                "updated_at": person.created_at,
            }
        )
        for area in person.interests:
            rows["stakeholder_therapeutic_interests"].append(
                {"stakeholder_id": person.id, "therapeutic_area_code": area}
            )
        options = PREFERRED_CHANNELS.get(
            person.type, PREFERRED_CHANNELS["organisation"] if person.kind == "organisation" else ()
        )
        if options:
            count = min(len(options), int(rng.integers(1, 4)))
            for rank, choice in enumerate(rng.permutation(len(options))[:count].tolist(), 1):
                rows["stakeholder_channel_preferences"].append(
                    {"stakeholder_id": person.id, "channel_code": options[choice], "rank": rank}
                )
        if person.organisation_id is not None:
            rows["affiliations"].append(
                {
                    "id": len(rows["affiliations"]) + 1,
                    "person_id": person.id,
                    "organisation_id": person.organisation_id,
                    "role": _role(person),
                    "started_on": (person.created_at - timedelta(days=365)).date(),
                    "ended_on": None,
                }
            )
        _consents(rows["consents"], person, rng)
    return rows


def _role(person: Person) -> str:
    if person.type == "investigator":
        return "principal_investigator" if person.id % 2 else "sub_investigator"
    if person.type == "site_staff":
        return (person.specialty or "site_staff").lower().replace(" ", "_")
    if person.specialty == "Hospital pharmacy":
        return "pharmacist"
    return "physician" if person.display_name.startswith("Dr.") else "nurse"


def _consents(consents: list[dict[str, Any]], person: Person, rng: np.random.Generator) -> None:
    """Granted when first recorded; survey consent withdrawn where the person withdrew it."""
    for purpose, channel in CONSENT_PLAN.get(person.type, ()):
        if purpose != "survey" and rng.random() < 0.2:
            continue  # not everyone is asked for everything
        granted = person.created_at + timedelta(days=float(rng.uniform(0, 20)))
        source = CONSENT_SOURCES[person.type]
        consents.append(_consent(consents, person.id, purpose, channel, "granted", granted, source))
        withdrawn = person.survey_withdrawn_at if purpose == "survey" else None
        if purpose == "marketing" and rng.random() < 0.1:
            withdrawn = REFERENCE_DATE - timedelta(days=float(rng.uniform(10, 500)))
        if withdrawn is not None:
            consents.append(
                _consent(consents, person.id, purpose, channel, "withdrawn", withdrawn, source)
            )


def _consent(
    consents: list[dict[str, Any]],
    stakeholder_id: int,
    purpose: str,
    channel: str | None,
    status: str,
    recorded_at: Any,
    source: str,
) -> dict[str, Any]:
    return {
        "id": len(consents) + 1,
        "stakeholder_id": stakeholder_id,
        "purpose": purpose,
        "channel_code": channel,
        "status": status,
        "recorded_at": recorded_at.replace(microsecond=0),
        "source": source,
    }
