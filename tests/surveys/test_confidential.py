"""A confidential survey (the employee pulse) as every role meets it, through every route.

The store holds a pulse of three teams (3, 6 and 7 employees, two waves), whose comments carry
raw words no route may show and a redaction only the EX page may show for teams at the
workspace's minimum, and customers those teams served. Every GET route of the app (found by
walking it, so a new route is covered the day it is added) is asked by every role with every
seeded id in its path, and must never answer with a pulse comment's words, a pulse response as
a record, or a figure over fewer people than the minimum. Guards fail when the walk finds no
routes or never shows the customer records beside them: a sweep that saw nothing would pass.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.access import ROLES, policies_of
from cpxm.app import create_app
from cpxm.auth.service import create_api_token, create_user
from cpxm.cases import scan
from cpxm.cases.models import Case
from cpxm.surveys.models import Survey
from cpxm.surveys.service import save_definition
from cpxm.workspace.models import AuditLogEntry
from tests.conftest import url_of
from tests.factories import make_stakeholder, make_taxonomy
from tests.served import cpxm_command
from tests.surveys.helpers import make_invitation
from tests.surveys.pulse import RAW_CANARY, REDACTED_CANARY, make_pulse

MIN_ROUTES = 40
# The routes that return a person's pulse answers: their own copy under GDPR Art. 15 (cpxm
# privacy export, its API and its admin page), which only an admin makes, audited, to hand to
# that person.
SUBJECT_ACCESS = frozenset(
    {
        "/api/v1/privacy/stakeholders/{stakeholder_id}/export",
        "/admin/privacy/{stakeholder_id}/export.json",
    }
)
EX_ROUTES = ("/api/v1/analytics/ex", "/analytics/ex")
QUERIES: dict[str, list[dict[str, str]]] = {
    "/api/v1/feedback": [{}, {"source_kind": "survey_comment", "limit": "200"}],
    "/feedback": [{}, {"source_kind": "survey_comment"}],
    "/api/v1/responses": [{"limit": "200"}],
    "/api/v1/surveys/{survey_id}/export": [{"format": "csv"}, {"format": "json"}],
    "/api/v1/analytics/metrics": [
        {"metric": "nps", "filter": "survey:pulse", "segment": "country", "min_n": "1"},
        {"metric": "nps", "min_n": "1"},
    ],
    "/api/v1/analytics/metrics/responses": [
        {"metric": "nps", "min_n": "1", "filter": "survey:pulse"},
        {"metric": "nps", "min_n": "1"},
        {"metric": "csat", "min_n": "1"},
    ],
    "/analytics/metrics/responses": [{"metric": "nps", "min_n": "1", "filter": "survey:pulse"}],
    "/analytics/metrics/responses.csv": [{"metric": "nps", "min_n": "1"}],
    "/api/v1/analytics/ex": [{}, {"wave": "2025-02"}],
    "/analytics/ex": [{}, {"wave": "2025-02"}],
    "/analytics/ex/teams.csv": [{}, {"wave": "2025-02"}],
    "/api/v1/pulse/surveys/{survey_id}/invitations": [{"limit": "200"}],
}


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


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for inner in value.values():
            yield from _objects(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _objects(inner)


def test_the_walk_finds_the_routes_that_carry_answers() -> None:
    assert len(ROUTES) >= MIN_ROUTES, ROUTES
    assert {
        "/api/v1/responses/{response_id}",
        "/api/v1/surveys/{survey_id}/export",
        "/api/v1/feedback/{feedback_id}",
        "/api/v1/analytics/metrics/responses",
        *EX_ROUTES,
    } <= set(ROUTES)


@pytest.mark.parametrize("role", ROLES)
def test_no_route_shows_a_pulse_answer_or_a_small_group_to_any_role(
    role: str, client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_taxonomy(session)
    pulse = make_pulse(session)
    scan.scan(session)
    session.commit()
    pulse_responses = {r.id for r in pulse.responses}
    ids: dict[str, list[Any]] = {
        "survey_id": [pulse.survey.id],
        "response_id": [pulse.responses[0].id, pulse.customer_response_ids[0]],
        "feedback_id": pulse.feedback_ids[:1],
        "stakeholder_id": [pulse.employees["Small team"][0].id],
        "table": ["affected"],
    }
    client = client_as(role)
    leaks: list[str] = []
    answered = 0
    saw_customer_records = False
    saw_verbatims = False
    for path in ROUTES:
        for url, query in _urls(path, ids):
            answer = client.get(url, params=query, follow_redirects=False)
            if path in SUBJECT_ACCESS:
                assert (answer.status_code == 200) == (role == "admin"), answer.status_code
                continue
            if answer.status_code != 200:
                continue
            answered += 1
            body = answer.content.decode("utf-8", errors="replace")
            where = f"{url} {query}"
            if RAW_CANARY in body:
                leaks.append(f"{where}: a pulse comment's raw words")
            if f"{REDACTED_CANARY}-Small team" in body:
                leaks.append(f"{where}: a comment of a team below the minimum")
            if REDACTED_CANARY in body:
                if url not in EX_ROUTES:
                    leaks.append(f"{where}: pulse comments outside the EX page")
                saw_verbatims = True
            if not answer.headers.get("content-type", "").startswith("application/json"):
                continue
            for record in _objects(answer.json()):
                if record.get("response_id") in pulse_responses or (
                    url.startswith("/api/v1/responses") and record.get("id") in pulse_responses
                ):
                    leaks.append(f"{where}: pulse response {record} as a record")
                if record.get("response_id") in pulse.customer_response_ids or (
                    url.startswith("/api/v1/responses")
                    and record.get("id") in pulse.customer_response_ids
                ):
                    saw_customer_records = True
                shown = {"value", "n", "suppressed"} <= set(record) and not record["suppressed"]
                if shown and record["n"] is not None and record["n"] < 5:
                    leaks.append(f"{where}: a cell of {record['n']} people: {record}")
    assert not leaks, "\n".join(leaks)
    assert answered >= 20
    assert saw_verbatims, "the EX page showed no verbatim of the teams at the minimum"
    if role == "admin":
        # The sweep reached the customers' records: the absence of pulse ones means something.
        assert saw_customer_records


def test_no_case_opens_on_a_confidential_answer(session: Session) -> None:
    make_taxonomy(session)
    pulse = make_pulse(session)
    report = scan.scan(session)
    on_pulse = session.scalars(
        select(Case).where(Case.response_id.in_([r.id for r in pulse.responses]))
    ).all()
    assert on_pulse == []
    # The same scan opens cases for the customers' low after-contact scores beside them.
    assert report.opened
    assert session.scalars(
        select(Case).where(Case.response_id.in_(pulse.customer_response_ids))
    ).first()


def test_the_people_team_sees_who_answered_and_links_answers_only_by_policy(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_taxonomy(session)
    pulse = make_pulse(session)
    session.commit()
    people_team = client_as("hr_partner")
    invitations = people_team.get(
        f"/api/v1/pulse/surveys/{pulse.survey.id}/invitations", params={"limit": 200}
    )
    assert invitations.status_code == 200
    items = invitations.json()["items"]
    assert len(items) == 2 * 16 and all(item["answered"] for item in items)
    assert not any(key in items[0] for key in ("answers", "enps", "response_id"))
    linked = f"/api/v1/pulse/surveys/{pulse.survey.id}/responses"
    refused = people_team.get(linked)
    assert refused.status_code == 403
    assert "confidential" in refused.json()["detail"]

    admin = client_as("admin")
    changed = admin.put("/api/v1/pulse/settings", json={"identity": "people_team"})
    assert changed.status_code == 200 and changed.json()["identity"] == "people_team"
    allowed = people_team.get(linked, params={"limit": 5})
    assert allowed.status_code == 200
    assert allowed.json()["items"][0]["name"].startswith("Employee ")
    assert session.scalar(
        select(AuditLogEntry.id).where(
            AuditLogEntry.action == "read", AuditLogEntry.entity_type == "responses"
        )
    )
    # The policy is the people team's alone: other roles still meet the survey as figures.
    assert client_as("cx_lead").get(f"/api/v1/responses/{pulse.responses[0].id}").status_code == 403
    assert admin.get(linked).status_code == 403


def test_the_respondent_page_states_the_promise(client: TestClient, session: Session) -> None:
    make_taxonomy(session)
    document = {
        "code": "people_pulse",
        "name": "People pulse",
        "kind": "employee_pulse",
        "status": "active",
        "pages": [{"questions": [{"code": "enps", "type": "nps", "prompt": "Recommend us?"}]}],
    }
    survey = save_definition(session, document=document).survey
    assert survey.confidential  # an employee pulse is confidential unless it says otherwise
    employee = make_stakeholder(session, type="employee", language="en")
    invitation = make_invitation(session, survey, employee)
    session.commit()
    page = client.get(f"/s/{invitation.token}")
    assert page.status_code == 200
    assert "Your answers are confidential" in page.text
    assert "groups of at least 5" in page.text
    assert "sees only whether you have answered" in page.text


def test_the_command_line_refuses_a_record_export(store_engine: Engine, tmp_path: Path) -> None:
    with Session(store_engine) as session:
        make_taxonomy(session)
        make_pulse(session, {"Team": 5})
        session.commit()
        code = session.scalar(select(Survey.code).where(Survey.confidential.is_(True)))
    with Session(store_engine) as session:
        admin = create_user(session, email="admin@example.org", role="admin")
        token = create_api_token(session, user=admin).token
        session.commit()
    environment = {**os.environ, "CPXM_DATABASE_URL": url_of(store_engine), "CPXM_TOKEN": token}
    done = cpxm_command("survey", "export", str(code), environment=environment, cwd=tmp_path)
    assert done.returncode != 0
    assert "confidential" in done.stdout + done.stderr
    assert RAW_CANARY not in done.stdout + done.stderr
    json.dumps(done.stdout)  # the refusal is one readable line, not a dump
