"""Every route x role x protected field: no route answers a role with a field it may not see.

The store is seeded with canaries, distinctive words planted in every kind of protected content
(a patient's identity and real id, a patient's words, a medical department's words, a safety
narrative), each in every kind of record that can carry it. Then every GET route of the app
(API, pages and exports, found by walking the app, so a new route is covered the day it is
added) is requested as every role, with every seeded record in its path. A canary of a kind the
role may not see must appear in no answer; a canary the role may see, when shown, must have
left a read in the audit log. The guards fail when the walk finds no routes or a canary is never
shown to anyone: a test that saw nothing would pass for nothing.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.access import ROLES, Protected, policies_of
from cpxm.access.records import NEEDS
from cpxm.access.roles import ROLE_DOMAINS, Role
from cpxm.app import create_app
from cpxm.cases import service as cases
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.surveys.models import Answer
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry
from tests.factories import (
    make_affiliation,
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)

PATIENT_ID = 7770001
CANARIES: dict[Protected, tuple[str, ...]] = {
    Protected.IDENTITY: ("Canary Patientname", "Canaryfirst", "canary.patient@", str(PATIENT_ID)),
    Protected.PATIENT_TEXT: (
        "CANARY-PSPNOTE",
        "CANARY-PSPCOMMENT",
        "CANARY-PATIENTANSWER",
        "CANARY-CASEPATIENT",
    ),
    Protected.MEDICAL: ("CANARY-MEDNOTE", "CANARY-MEDFEEDBACK"),
    Protected.SAFETY: ("CANARY-AENARRATIVE", "CANARY-AEANSWER", "CANARY-AECASE"),
}
# Filters that make a list show the records a leak would be in (the issue found narratives
# through ?safety_kind=ae and a patient's name through ?type=patient).
QUERIES: dict[str, list[dict[str, str]]] = {
    "/api/v1/stakeholders": [{}, {"type": "patient"}],
    "/api/v1/feedback": [{}, {"safety_kind": "ae"}, {"source_kind": "call_note"}],
    "/feedback": [{}, {"safety_kind": "ae"}],
    "/api/v1/surveys/{survey_id}/export": [
        {"format": "csv"},
        {"format": "json"},
        {"format": "parquet"},
    ],
    "/api/v1/analytics/metrics/responses": [{"metric": "nps", "min_n": "1"}],
    "/analytics/metrics/responses": [{"metric": "nps", "min_n": "1"}],
    "/analytics/metrics/responses.csv": [{"metric": "nps", "min_n": "1"}],
    "/api/v1/analytics/coordination": [{"min_departments": "2", "window_days": "30"}],
    "/analytics/coordination/export/{table}.csv": [{"min_departments": "2", "window_days": "30"}],
    "/api/v1/analytics/silent-disengagement": [{"min_baseline": "1"}],
    "/cases": [{"view": "all"}],
}
TABLES = ["affected", "departments"]
MIN_ROUTES = 40  # GET routes behind a policy; about 55 when written


def _get_routes() -> list[str]:
    app = create_app(sessionmaker_=sessionmaker())
    paths = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute) or "GET" not in (context.methods or ()):
            continue
        policies = policies_of(context)
        if policies and not any(policy.public for policy in policies):
            paths.append(str(context.path))
    return sorted(set(paths))


ROUTES = _get_routes()


def _seed(session: Session) -> dict[str, list[Any]]:
    """Every kind of protected content in every kind of record that carries it."""
    make_taxonomy(session)
    patient = make_stakeholder(
        session,
        type="patient",
        id=PATIENT_ID,
        display_name="Canary Patientname",
        first_name="Canaryfirst",
        last_name="Canarylast",
        email="canary.patient@example.org",
        country_code="DE",
    )
    hcp = make_stakeholder(session, type="hcp", display_name="Dr Open Name", country_code="DE")
    group = make_stakeholder(session, type="patient_organisation", display_name="Patients United")
    make_affiliation(session, person=patient, organisation=group, role="member")
    psp = make_interaction(
        session,
        stakeholder=patient,
        department_code="patient_services",
        notes="CANARY-PSPNOTE she struggles with the pen",
    )
    medical = make_interaction(
        session,
        stakeholder=hcp,
        department_code="medical_affairs",
        notes="CANARY-MEDNOTE off-label dosing question",
        occurred_at=utc_now().replace(tzinfo=None),
    )
    visit = make_interaction(
        session,
        stakeholder=hcp,
        notes="plain visit",
        occurred_at=utc_now().replace(tzinfo=None),
    )
    survey = make_survey(session)
    nps = make_question(session, survey=survey)
    text = make_question(session, survey=survey, question_type="text", position=2)
    by_patient = make_response(
        session, survey=survey, stakeholder=patient, answers={nps: 3, text: "CANARY-PATIENTANSWER"}
    )
    by_hcp = make_response(
        session, survey=survey, stakeholder=hcp, answers={nps: 2, text: "CANARY-AEANSWER rash"}
    )
    ae_answer = session.scalar(
        select(Answer).where(Answer.response_id == by_hcp.id, Answer.question_id == text.id)
    )
    now = utc_now().replace(tzinfo=None)
    items: list[tuple[str, Any, str, dict[str, int | None], list[str]]] = [
        # (text, stakeholder, source kind, links, safety kinds found)
        ("CANARY-MEDFEEDBACK from the note", hcp, "call_note", {"interaction_id": medical.id}, []),
        ("CANARY-PSPCOMMENT my husband had nausea", patient, "call_centre_log", {}, []),
        ("CANARY-AENARRATIVE I got a rash after Glyventa", hcp, "web_form", {}, ["ae", "pc"]),
        (
            "CANARY-AEANSWER rash",
            hcp,
            "survey_comment",
            {"response_id": by_hcp.id, "answer_id": ae_answer.id if ae_answer else None},
            ["ae"],
        ),
        ("CANARY-PATIENTANSWER", patient, "survey_comment", {"response_id": by_patient.id}, []),
    ]
    feedback = []
    for words, person, source_kind, links, safety in items:
        item = FeedbackItem(
            source_kind=source_kind,
            text=words,
            stakeholder_id=person.id,
            received_at=now,
            analysis_status="done",
            **links,
        )
        session.add(item)
        session.flush()
        session.add(
            FeedbackAnalysis(
                feedback_item_id=item.id,
                sentiment_label="negative",
                sentiment_score=-0.5,
                themes=[],
                redacted_text=words,
                pii_kinds=[],
                safety_kinds=safety,
                safety_contexts=["affirmed"] if safety else [],
                safety_mentions=[{"kind": k, "sentence": words} for k in safety],
                analysed_at=now,
            )
        )
        feedback.append(item)
    session.flush()
    patient_case = cases.open_case(
        session,
        case_type="detractor",
        title="Detractor",
        description="CANARY-CASEPATIENT said the nurse never called",
        stakeholder_id=patient.id,
    ).case
    ae_case = cases.open_case(
        session,
        case_type="complaint",
        title="Product complaint",
        description="CANARY-AECASE rash after Glyventa",
        stakeholder_id=hcp.id,
    ).case
    ae_case.feedback_item_id = feedback[2].id
    cases.comment_case(
        session, case=patient_case, actor_user_id=None, text="CANARY-CASEPATIENT called back"
    )
    session.commit()
    return {
        "stakeholder_id": [patient.id, hcp.id],
        "interaction_id": [psp.id, medical.id, visit.id],
        "feedback_id": [item.id for item in feedback],
        "response_id": [by_patient.id, by_hcp.id],
        "survey_id": [survey.id],
        "case_id": [patient_case.id, ae_case.id],
        "table": TABLES,
    }


def _urls(path: str, ids: dict[str, list[Any]]) -> list[tuple[str, dict[str, str]]]:
    names = re.findall(r"\{([^}]+)\}", path)
    choices = [ids.get(name, [999999]) for name in names]
    urls: list[tuple[str, dict[str, str]]] = []
    for values in itertools.product(*choices):
        url = path
        for name, value in zip(names, values, strict=True):
            url = url.replace("{" + name + "}", str(value))
        urls.extend((url, query) for query in QUERIES.get(path, [{}]))
    return urls


def _text(content: bytes) -> str:
    if content.startswith(b"PAR1"):  # Parquet: compressed, so read it, not its bytes
        return repr(pq.read_table(io.BytesIO(content)).to_pylist())
    return content.decode("utf-8", errors="replace")


def _reads(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).where(AuditLogEntry.action == "read")) or 0)


def _visible(role: str) -> set[Protected]:
    domains = ROLE_DOMAINS[Role(role)]
    return {kind for kind, domain in NEEDS.items() if domain in domains}


def test_the_walk_finds_the_routes_that_return_records() -> None:
    assert len(ROUTES) >= MIN_ROUTES, ROUTES
    assert {
        "/api/v1/stakeholders/{stakeholder_id}",
        "/api/v1/surveys/{survey_id}/export",
        "/api/v1/responses/{response_id}",
        "/feedback",
    } <= set(ROUTES)


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_a_role_with_a_field_it_may_not_see(
    role: str, client_as: Callable[[str], TestClient], session: Session
) -> None:
    ids = _seed(session)
    client = client_as(role)
    visible = _visible(role)
    leaks: list[str] = []
    unaudited: list[str] = []
    shown: set[str] = set()
    answered = 0
    for path in ROUTES:
        for url, query in _urls(path, ids):
            before = _reads(session)
            answer = client.get(url, params=query, follow_redirects=False)
            if answer.status_code != 200:
                continue
            answered += 1
            body = _text(answer.content)
            found = {
                (kind, canary)
                for kind, canaries in CANARIES.items()
                for canary in canaries
                if canary in body
            }
            for kind, canary in found:
                if kind not in visible:
                    leaks.append(f"{url} {query}: {kind.value} '{canary}' shown to {role}")
            shown.update(canary for _kind, canary in found)
            if found and _reads(session) == before:
                unaudited.append(f"{url} {query}: {sorted(c for _k, c in found)}")
    assert not leaks, "\n".join(leaks)
    assert not unaudited, f"protected content shown to {role} with no read audited:\n" + "\n".join(
        unaudited
    )
    if role == "admin":
        # The admin may see everything: every canary reached someone through some route, so
        # the absence of leaks above means something.
        planted = {canary for canaries in CANARIES.values() for canary in canaries}
        assert planted <= shown, f"never shown: {sorted(planted - shown)}"
        assert answered >= MIN_ROUTES
