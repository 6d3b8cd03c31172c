"""Property-based API tests: schemathesis drives every operation in /openapi.json, signed in as
several roles, with a bounded number of generated examples per operation.

Passing means: no 5xx for any generated request, and every documented response matches its
schema (a ``date-time`` without its offset, which RFC 3339 forbids, breaks it). Examples per
operation: ``CPXM_SCHEMATHESIS_EXAMPLES`` (default 4, to keep the suite quick on a shared
machine; raise it for a deeper run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cpxm.app import create_app
from cpxm.cases import service as cases
from cpxm.governance.service import load_matrix
from cpxm.safety.screening import screen_items
from tests.cases.helpers import MATRIX
from tests.conftest import bearer_headers
from tests.factories import make_interaction, make_stakeholder, make_taxonomy
from tests.safety.helpers import make_feedback

EXAMPLES = int(os.environ.get("CPXM_SCHEMATHESIS_EXAMPLES", "4"))
ROLES = ("admin", "commercial", "analyst", "viewer", "pv_officer")


def seed_store(engine: Engine) -> None:
    """A little of everything, committed: so generated requests find records to act on."""
    from cpxm.auth.service import create_team, create_user

    with Session(engine) as session:
        make_taxonomy(session)
        team = create_team(session, name="Service DE", country_code="DE")
        create_user(session, email="agent@example.org", role="cx_lead", team_id=team.id)
        create_user(session, email="mate@example.org", role="commercial", team_id=team.id)
        create_user(session, email="lead@example.org", role="cx_lead")
        create_user(session, email="watcher@example.org", role="viewer")
        load_matrix(session, text=MATRIX)
        patient = make_stakeholder(session, type="patient", country_code="DE")
        hcp = make_stakeholder(session, type="hcp", country_code="FR")
        make_interaction(session, stakeholder=hcp, notes="visit")
        cases.open_case(session, case_type="detractor", title="NPS 2", stakeholder_id=patient.id)
        # A safety case, so the PV queue's answers are checked against their schema too.
        item = make_feedback(session, "I had a seizure after the second injection.")
        assert screen_items(session, items=[item])[1]
        session.commit()


@pytest.fixture
def seeded_app(store_engine: Engine) -> Iterator[FastAPI]:
    if store_engine.dialect.name != "sqlite":
        pytest.skip("one engine is enough for generated requests; the API is the same")
    seed_store(store_engine)
    yield create_app(engine=store_engine)


@pytest.mark.parametrize("role", ROLES)
def test_api_answers_within_its_schema_for_each_role(seeded_app: FastAPI, role: str) -> None:
    engine: Engine = seeded_app.state.engine
    headers = bearer_headers(sessionmaker(bind=engine), role)
    schema = schemathesis.openapi.from_dict(seeded_app.openapi())
    schema.app = seeded_app
    failures: list[str] = []
    for operation in api_operations(schema):
        failure, _ = first_failure(
            operation,
            examples=EXAMPLES,
            headers=headers,
            checks=[not_a_server_error, response_schema_conformance],
        )
        if failure:
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}"[:600])
    assert not failures, "\n\n".join(failures)


def api_operations(schema: Any) -> list[Any]:
    """Every operation to generate requests for; fails on an invalid or empty schema."""
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"invalid operation in /openapi.json: {result}"
        operation = result.ok()
        # File uploads need real files: tests/api/test_imports.py covers them.
        if operation.path == "/api/v1/imports" and operation.method.upper() == "POST":
            continue
        operations.append(operation)
    assert len(operations) > 20  # the walk reached the API, not an empty schema
    return operations


def first_failure(
    operation: Any, *, examples: int, checks: list[Any], **call: Any
) -> tuple[str | None, int]:
    """Up to ``examples`` generated requests for one operation, sent with ``call`` (headers,
    base_url, ...): the first failing check, if any, and how many requests went."""
    sent = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        nonlocal sent
        case = data.draw(operation.as_strategy())
        sent += 1
        case.call_and_validate(checks=checks, **call)

    try:
        check()
    except Exception as error:  # any failure is reported with its operation
        return str(error), sent
    return None, sent
