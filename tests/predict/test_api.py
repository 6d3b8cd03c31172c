"""`GET /api/v1/predictions/stakeholders` and the at-risk service: risk, reasons and model
version, as each role may see them; objectors never listed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.access.principal import Principal
from cpxm.access.roles import Role
from cpxm.app import create_app
from cpxm.auth.service import create_user
from cpxm.predict.models import PredictionScore
from cpxm.predict.service import MEDICAL_WITHHELD, at_risk_stakeholders
from cpxm.privacy.objection import record_objection
from cpxm.stakeholders.models import Stakeholder
from tests.conftest import bearer_headers

from .conftest import ScoredStore

PATIENT_TYPES = {"patient", "caregiver"}


@pytest.fixture(scope="module")
def clients(scored_store: ScoredStore) -> Iterator[dict[str, TestClient]]:
    maker = sessionmaker(bind=scored_store.engine)
    app = create_app(engine=scored_store.engine)
    made = {
        role: TestClient(app, headers=bearer_headers(maker, role))
        for role in ("cx_lead", "commercial", "medical", "viewer")
    }
    yield made
    for client in made.values():
        client.close()


def test_the_list_is_paginated_highest_risk_first(clients: dict[str, TestClient]) -> None:
    answer = clients["cx_lead"].get("/api/v1/predictions/stakeholders", params={"limit": 20})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["limit"] == 20 and body["offset"] == 0 and body["total"] > 20
    assert body["model_version"] == 1
    risks = [item["risk"] for item in body["items"]]
    assert risks == sorted(risks, reverse=True) and len(risks) == 20
    first = body["items"][0]
    assert first["reasons"] and first["reasons"][0]["text"]
    assert first["model_version"] == 1
    assert first["as_of"].endswith(("Z", "+00:00"))
    second_page = (
        clients["cx_lead"]
        .get("/api/v1/predictions/stakeholders", params={"limit": 20, "offset": 20})
        .json()
    )
    assert second_page["items"][0]["rank"] > body["items"][-1]["rank"]


def test_commercial_roles_see_no_patients_and_no_medical_reasons(
    clients: dict[str, TestClient],
) -> None:
    everyone = clients["cx_lead"].get("/api/v1/predictions/stakeholders", params={"limit": 1000})
    commercial = clients["commercial"].get(
        "/api/v1/predictions/stakeholders", params={"limit": 1000}
    )
    medical = clients["medical"].get("/api/v1/predictions/stakeholders", params={"limit": 1000})
    assert {i["stakeholder_type"] for i in everyone.json()["items"]} & PATIENT_TYPES
    for answer in (commercial, medical):
        assert not {i["stakeholder_type"] for i in answer.json()["items"]} & PATIENT_TYPES
    commercial_reasons = [r for i in commercial.json()["items"] for r in i["reasons"]]
    medical_reasons = [r for i in medical.json()["items"] for r in i["reasons"]]
    assert any(r["feature"] == "late_answers_180" for r in medical_reasons)
    assert not any(r["feature"] == "late_answers_180" for r in commercial_reasons)
    assert any(r["text"] == MEDICAL_WITHHELD for r in commercial_reasons)
    assert clients["viewer"].get("/api/v1/predictions/stakeholders").status_code == 403


def test_an_objector_is_left_out_at_once(scored_store: ScoredStore) -> None:
    with Session(scored_store.engine) as session:
        top = session.execute(
            select(PredictionScore.stakeholder_id, Stakeholder.type)
            .join(Stakeholder, Stakeholder.id == PredictionScore.stakeholder_id)
            .where(Stakeholder.type == "hcp")
            .order_by(PredictionScore.rank)
            .limit(1)
        ).one()
        user = create_user(session, email="lead@predict.example", role="cx_lead")
        lead = Principal(
            user_id=user.id,
            email=user.email,
            display_name="Lead",
            role=Role.CX_LEAD,
            method="token",
        )
        listed = at_risk_stakeholders(session, lead, limit=1000)
        assert top.stakeholder_id in {item.stakeholder_id for item in listed.items}
        record_objection(
            session,
            stakeholder_id=top.stakeholder_id,
            reason="letter of 2025-07-01",
            actor_user_id=None,
        )
        after = at_risk_stakeholders(session, lead, limit=1000)
        assert top.stakeholder_id not in {item.stakeholder_id for item in after.items}
        assert after.total == listed.total - 1
        session.rollback()
