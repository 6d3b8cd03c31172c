"""The authorisation matrix: every role against every route that returns protected data.

Expectations are written out by hand for the routes whose rules the law and the firewall decide;
routes added later are held to the policy they declare, so none goes untested.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cpxm.access import ROLES, policies_of
from cpxm.app import create_app

EVERYONE = set(ROLES)
RECORD_ROLES = EVERYONE - {"viewer"}  # every role with the commercial domain
ADMIN_ONLY = {"admin"}

# Hand-written: who may read what. A change here is a change of the product's access rules.
EXPECTED: dict[str, set[str]] = {
    "/api/v1/stakeholders": RECORD_ROLES,
    "/api/v1/stakeholders/{stakeholder_id}": RECORD_ROLES,
    "/api/v1/interactions": RECORD_ROLES,
    "/api/v1/interactions/{interaction_id}": RECORD_ROLES,
    "/api/v1/surveys": RECORD_ROLES,
    "/api/v1/surveys/{survey_id}": RECORD_ROLES,
    "/api/v1/responses": RECORD_ROLES,
    "/api/v1/responses/{response_id}": RECORD_ROLES,
    "/api/v1/imports": ADMIN_ONLY,
    "/api/v1/imports/{run_id}": ADMIN_ONLY,
    "/api/v1/quarantine": ADMIN_ONLY,
    "/api/v1/identity/review": ADMIN_ONLY,
    "/api/v1/users": ADMIN_ONLY,
    "/api/v1/teams": ADMIN_ONLY,
    "/": EVERYONE,
    "/api/v1/me": EVERYONE,
}


def _protected_get_routes() -> dict[str, set[str]]:
    """Every GET route that is not public, with the roles its policies admit."""
    app = create_app(sessionmaker_=sessionmaker())
    routes: dict[str, set[str]] = {}
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute) or "GET" not in (context.methods or ()):
            continue
        policies = policies_of(context)
        if not policies or any(policy.public for policy in policies):
            continue
        allowed = set(EVERYONE)
        for policy in policies:
            allowed &= {role.value for role in policy.allowed_roles}
        routes[str(context.path)] = allowed
    return routes


PROTECTED = _protected_get_routes()


def test_hand_written_expectations_match_the_declared_policies() -> None:
    for path, roles in EXPECTED.items():
        assert path in PROTECTED, f"{path} is no longer a protected GET route"
        assert PROTECTED[path] == roles, f"{path}: policy admits {sorted(PROTECTED[path])}"


def test_commercial_roles_never_reach_medical_patient_or_safety_routes() -> None:
    from cpxm.access import MEDICAL_DATA, PATIENT_DATA, SAFETY_DATA

    for policy in (MEDICAL_DATA, PATIENT_DATA, SAFETY_DATA):
        assert "commercial" not in {role.value for role in policy.allowed_roles}
        assert "viewer" not in {role.value for role in policy.allowed_roles}
    assert {role.value for role in SAFETY_DATA.allowed_roles} == {"admin", "pv_officer"}


def _concrete(path: str) -> str:
    # An id that does not exist: allowed roles get 404 (or 200), refused roles 403 first.
    return re.sub(r"\{[^}]+\}", "999999", path)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_against_every_protected_route(
    role: str, client_as: Callable[[str], TestClient], session: Session
) -> None:
    client = client_as(role)
    wrong: list[str] = []
    for path, allowed in sorted(PROTECTED.items()):
        expected = EXPECTED.get(path, allowed)
        status = client.get(_concrete(path), follow_redirects=False).status_code
        if role in expected and status in (401, 403):
            wrong.append(f"{path}: {role} refused with {status}")
        if role not in expected and status != 403:
            wrong.append(f"{path}: {role} got {status}, expected 403")
    assert not wrong, "; ".join(wrong)


def test_nobody_signed_in_gets_401_everywhere(anonymous_client: TestClient) -> None:
    for path in PROTECTED:
        if not path.startswith("/api/"):
            continue
        assert anonymous_client.get(_concrete(path)).status_code == 401, path
