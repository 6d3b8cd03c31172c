"""The authorisation matrix: every role against every route that returns or changes protected
data, whatever its method.

The routes come from the app itself, so a new route is covered the day it is added, held to the
policy it declares. Expectations are written out by hand for the routes whose rules the law and
the firewall decide. Each request is a plausible one (real ids, a body built from the route's
own schema), so a refused write would have changed something had it run: it must answer 403 and
leave every table as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.access import ROLES, policies_of
from cpxm.app import create_app
from cpxm.auth.service import password_hasher
from cpxm.cases import service as cases
from cpxm.schema import metadata
from cpxm.workspace.models import User
from tests.auth.signing import PASSWORD
from tests.cases.helpers import MATRIX, make_org
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
)

EVERYONE = set(ROLES)
# Every role with the commercial domain: not the viewer, nor the people team (hr_partner),
# which sees employee-experience figures and the pulse's invitation status, no customers.
RECORD_ROLES = EVERYONE - {"viewer", "hr_partner"}
CASE_WORKERS = RECORD_ROLES - {"analyst"}
CX_MANAGERS = {"admin", "cx_lead"}
ADMIN_ONLY = {"admin"}
PV = {"admin", "pv_officer"}
PEOPLE_TEAM = {"hr_partner"}
WRITES = ("POST", "PUT", "PATCH", "DELETE")
MIN_WRITES_THAT_TAKE_EFFECT = 8  # of about 40; 9 when written (cases, events, users, ...)

# Hand-written: who may read and change what. A change here is a change of the access rules.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/v1/stakeholders"): RECORD_ROLES,
    ("GET", "/api/v1/stakeholders/{stakeholder_id}"): RECORD_ROLES,
    ("GET", "/api/v1/interactions"): RECORD_ROLES,
    ("GET", "/api/v1/interactions/{interaction_id}"): RECORD_ROLES,
    ("GET", "/api/v1/surveys"): RECORD_ROLES,
    ("GET", "/api/v1/surveys/{survey_id}"): RECORD_ROLES,
    ("GET", "/api/v1/responses"): RECORD_ROLES,
    ("GET", "/api/v1/responses/{response_id}"): RECORD_ROLES,
    ("GET", "/api/v1/imports"): ADMIN_ONLY,
    ("GET", "/api/v1/imports/{run_id}"): ADMIN_ONLY,
    ("GET", "/api/v1/quarantine"): ADMIN_ONLY,
    ("GET", "/api/v1/imports/quality-issues"): ADMIN_ONLY,
    ("GET", "/api/v1/identity/review"): ADMIN_ONLY,
    ("GET", "/api/v1/users"): ADMIN_ONLY,
    ("GET", "/api/v1/teams"): ADMIN_ONLY,
    ("GET", "/"): EVERYONE,
    ("GET", "/api/v1/me"): EVERYONE,
    ("POST", "/api/v1/interactions"): RECORD_ROLES,
    ("POST", "/api/v1/surveys"): CX_MANAGERS,
    ("POST", "/api/v1/imports"): ADMIN_ONLY,
    ("POST", "/api/v1/identity/review/{pair_id}/accept"): ADMIN_ONLY,
    ("POST", "/api/v1/cases"): CASE_WORKERS,
    ("POST", "/api/v1/cases/{case_id}/close"): CASE_WORKERS,
    ("POST", "/cases/{case_id}/action"): CASE_WORKERS,
    ("PUT", "/api/v1/governance/raci"): CX_MANAGERS,
    ("POST", "/governance"): CX_MANAGERS,
    ("POST", "/api/v1/users"): ADMIN_ONLY,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN_ONLY,
    ("POST", "/api/v1/users/{user_id}/tokens"): ADMIN_ONLY,
    ("POST", "/admin/users/{user_id}"): ADMIN_ONLY,
    ("GET", "/api/v1/privacy/stakeholders/{stakeholder_id}/export"): ADMIN_ONLY,
    ("POST", "/api/v1/privacy/stakeholders/{stakeholder_id}/erase"): ADMIN_ONLY,
    ("GET", "/api/v1/retention"): ADMIN_ONLY,
    ("PUT", "/api/v1/retention/{category}"): ADMIN_ONLY,
    ("POST", "/api/v1/retention/run"): ADMIN_ONLY,
    ("POST", "/api/v1/safety/cases/{case_id}/confirm"): PV,
    ("POST", "/safety/cases/{case_id}/decision"): PV,
    # Confidential surveys: only the people team sees who was invited and who answered.
    ("GET", "/api/v1/pulse/surveys/{survey_id}/invitations"): PEOPLE_TEAM,
    ("GET", "/api/v1/pulse/surveys/{survey_id}/responses"): PEOPLE_TEAM,
    ("GET", "/api/v1/pulse/settings"): ADMIN_ONLY,
    ("PUT", "/api/v1/pulse/settings"): ADMIN_ONLY,
    ("POST", "/api/v1/analytics/ex/actions"): EVERYONE - {"analyst", "viewer"},
    ("GET", "/api/v1/initiatives"): EVERYONE,
    ("POST", "/api/v1/initiatives"): CX_MANAGERS,
    ("PATCH", "/api/v1/initiatives/{code}"): CX_MANAGERS,
    ("GET", "/api/v1/maturity"): EVERYONE,
    ("POST", "/initiatives/{code}"): CX_MANAGERS,
    ("PATCH", "/api/v1/analytics/ex/actions/{action_id}"): EVERYONE - {"analyst", "viewer"},
    ("POST", "/analytics/ex/actions"): EVERYONE - {"analyst", "viewer"},
    ("POST", "/analytics/ex/actions/{action_id}"): EVERYONE - {"analyst", "viewer"},
}
# Tables every request may touch whoever asks: the audit log (refusals are logged) and the
# caller's own credentials (last use).
VOLATILE_TABLES = {"audit_log", "api_tokens", "user_sessions"}


# Plausible values for the form fields of pages (which are not in the OpenAPI document).
# Every caller here can sign (21 CFR Part 11 decisions re-enter the caller's password).
SIGNATURE_VALUES = {"password": PASSWORD, "meaning": "approved", "reason": "access matrix test"}
FORM_VALUES = {
    **SIGNATURE_VALUES,
    "action": "comment",
    "text": "Called back",
    "resolution_code": "resolved_fixed",
    "role": "viewer",
    "active": "false",
    "yaml_text": MATRIX,
}


def _app_routes() -> tuple[dict[tuple[str, str], set[str]], dict[str, Any]]:
    """Every (method, path) that is not public, with the roles its policies admit; the OpenAPI
    document, with the form fields of pages added to it."""
    app = create_app(sessionmaker_=sessionmaker())
    document = app.openapi()
    routes: dict[tuple[str, str], set[str]] = {}
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        policies = policies_of(context)
        if not policies or any(policy.public for policy in policies):
            continue
        allowed = set(EVERYONE)
        for policy in policies:
            allowed &= {role.value for role in policy.allowed_roles}
        route = context.original_route
        for method in context.methods or ():
            if method != "HEAD":
                routes[(method, str(context.path))] = allowed
            if not route.include_in_schema and route.dependant.body_params:
                form = {p.alias: FORM_VALUES.get(p.alias, "x") for p in route.dependant.body_params}
                document["paths"].setdefault(str(context.path), {})[method.lower()] = {
                    "requestBody": {
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        name: {"type": "string", "default": value}
                                        for name, value in form.items()
                                    },
                                    "required": list(form),
                                }
                            }
                        }
                    }
                }
    return routes, document


PROTECTED, OPENAPI = _app_routes()


def test_hand_written_expectations_match_the_declared_policies() -> None:
    for route, roles in EXPECTED.items():
        assert route in PROTECTED, f"{route} is no longer a protected route"
        assert PROTECTED[route] == roles, f"{route}: policy admits {sorted(PROTECTED[route])}"


def test_the_matrix_covers_writes() -> None:
    methods = {method for method, _path in PROTECTED}
    assert {"GET", "POST", "PUT", "PATCH"} <= methods
    assert sum(method in WRITES for method, _path in PROTECTED) >= 30


def test_commercial_roles_never_reach_medical_patient_or_safety_routes() -> None:
    from cpxm.access import MEDICAL_DATA, PATIENT_DATA, SAFETY_DATA

    for policy in (MEDICAL_DATA, PATIENT_DATA, SAFETY_DATA):
        assert "commercial" not in {role.value for role in policy.allowed_roles}
        assert "viewer" not in {role.value for role in policy.allowed_roles}
    assert {role.value for role in SAFETY_DATA.allowed_roles} == {"admin", "pv_officer"}


def _seed(session: Session) -> dict[str, int]:
    """Real records for the path ids, so an allowed write would change something."""
    org = make_org(session)
    patient = make_stakeholder(session, type="patient", country_code="DE")
    survey = make_survey(session)
    nps = make_question(session, survey=survey)
    response = make_response(session, survey=survey, stakeholder=patient, answers={nps: 2})
    interaction = make_interaction(session, stakeholder=patient, notes="visit")
    case = cases.open_case(session, case_type="detractor", title="NPS 2", stakeholder_id=patient.id)
    session.commit()
    return {
        "case_id": case.case.id,
        "stakeholder_id": patient.id,
        "survey_id": survey.id,
        "response_id": response.id,
        "interaction_id": interaction.id,
        "user_id": org.watcher.id,
        "team_id": org.team.id,
    }


def _concrete(path: str, ids: dict[str, int]) -> str:
    # Ids the seed made are real; others do not exist (allowed roles get 404, refused ones 403).
    return re.sub(r"\{([^}]+)\}", lambda m: str(ids.get(m.group(1), 999999)), path)


def _example(schema: dict[str, Any], depth: int = 0) -> Any:
    """A small value that satisfies ``schema`` where it can: required fields only."""
    schema = _resolve(schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _example(options[0], depth)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" and depth < 4:
        properties = schema.get("properties", {})
        return {
            name: SIGNATURE_VALUES.get(name) or _example(properties[name], depth + 1)
            for name in schema.get("required", [])
        }
    if kind == "array":
        return [_example(schema.get("items", {}), depth + 1)] * schema.get("minItems", 0)
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2026-11-16T10:00:00Z"
        if schema.get("format") == "date":
            return "2026-11-16"
        return "x" * max(schema.get("minLength", 1), 1)
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    return {}


def _request(method: str, path: str) -> dict[str, Any]:
    """The body of a plausible request to (method, path), from the route's OpenAPI schema."""
    operation = OPENAPI["paths"].get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return {"json": _example(content["application/json"]["schema"])}
    if "application/x-www-form-urlencoded" in content:
        fields = _example(content["application/x-www-form-urlencoded"]["schema"])
        return {"data": {name: str(value) for name, value in fields.items()}}
    if "multipart/form-data" in content:  # an upload: a small CSV for every file field
        schema = _resolve(content["multipart/form-data"]["schema"])
        files = {
            name: ("rows.csv", b"name,email\nAda,ada@example.org\n", "text/csv")
            for name, field in schema.get("properties", {}).items()
            if _resolve(field).get("format") == "binary"
            or _resolve(field).get("contentMediaType") == "application/octet-stream"
        }
        fields = _example(schema)
        return {
            "files": files,
            "data": {name: str(value) for name, value in fields.items() if name not in files},
        }
    return {}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    return schema


def _snapshot(session: Session) -> str:
    """A digest of every row of every table but the volatile ones."""
    digest = hashlib.sha256()
    for table in metadata.sorted_tables:
        if table.name in VOLATILE_TABLES:
            continue
        rows = sorted(repr(tuple(row)) for row in session.execute(select(table)))
        digest.update(f"{table.name}:{len(rows)}:{''.join(rows)}".encode())
    return digest.hexdigest()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_against_every_protected_route(
    role: str, client_as: Callable[[str], TestClient], session: Session
) -> None:
    ids = _seed(session)
    client = client_as(role)
    # On the seeded case's team: this test is about route policies; which case a role may change
    # (its team's) is tested in tests/access/test_case_ownership.py.
    caller = session.scalars(select(User).where(User.email.like(f"{role}-%@test.example"))).one()
    caller.team_id = ids["team_id"]
    caller.password_hash = password_hasher.hash(PASSWORD)
    session.commit()
    wrong: list[str] = []
    took_effect: list[str] = []
    for (method, path), allowed in sorted(PROTECTED.items()):
        expected = EXPECTED.get((method, path), allowed)
        refused = role not in expected
        watched = method in WRITES and (refused or role == "admin")
        before = _snapshot(session) if watched else None
        status = client.request(
            method, _concrete(path, ids), follow_redirects=False, **_request(method, path)
        ).status_code
        if not refused and status in (401, 403):
            wrong.append(f"{method} {path}: {role} refused with {status}")
        if refused and status != 403:
            wrong.append(f"{method} {path}: {role} got {status}, expected 403")
        if before is not None and _snapshot(session) != before:
            if refused:
                wrong.append(f"{method} {path}: refused to {role}, yet it changed the store")
            else:
                took_effect.append(f"{method} {path}")
    assert not wrong, "\n".join(wrong)
    if role == "admin":
        # The requests are real ones: the same writes from an allowed role change the store.
        assert len(took_effect) >= MIN_WRITES_THAT_TAKE_EFFECT, took_effect


def test_nobody_signed_in_gets_401_everywhere(anonymous_client: TestClient) -> None:
    for method, path in PROTECTED:
        if not path.startswith("/api/"):
            continue
        status = anonymous_client.request(method, _concrete(path, {}), **_request(method, path))
        assert status.status_code == 401, (method, path)
