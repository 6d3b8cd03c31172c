"""The At risk page in real Chromium: a commercial user sees the HCPs at risk with their reasons
in words, no patient, and no reason drawn from medical inquiries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.auth.service import create_user
from cpxm.predict.models import PredictionModel, PredictionScore
from tests.factories import make_stakeholder, make_taxonomy

PASSWORD = "correct horse battery staple 42"
AS_OF = datetime(2025, 7, 1)


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        make_taxonomy(session)
        create_user(session, email="rep@pharma.example", role="commercial", password=PASSWORD)
        hcp = make_stakeholder(session, display_name="Dr Alma Quist", country_code="DE")
        patient = make_stakeholder(session, type="patient", display_name="Pat Ient Canary")
        model = PredictionModel(
            version=3,
            created_at=AS_OF,
            trained_through=datetime(2025, 1, 1),
            test_cutoff=datetime(2025, 4, 1),
            examples=1000,
            parameters={},
            metrics={
                "model": {"auc": 0.71, "precision_at_5": 0.4, "precision_at_10": 0.35},
                "last_score": {"auc": 0.52, "precision_at_5": 0.2, "precision_at_10": 0.18},
                "silent_rule": {"auc": 0.55, "precision_at_5": 0.3, "precision_at_10": 0.2},
                "positive_rate": 0.14,
                "cutoffs": {"test": "2025-04-01"},
                "calibration": [{"people": 10, "predicted": 0.1, "observed": 0.12}],
            },
            seconds=1.0,
        )
        session.add(model)
        session.flush()
        reasons = [
            {
                "feature": "late_answers_180",
                "text": "2 medical inquiries answered late",
                "contribution": 0.9,
            },
            {
                "feature": "ping_pong_90",
                "text": "2 weeks with contacts from 3 or more departments (ping-pong)",
                "contribution": 0.5,
            },
        ]
        for rank, (person, risk) in enumerate(((hcp, 0.62), (patient, 0.55)), 1):
            session.add(
                PredictionScore(
                    model_id=model.id,
                    stakeholder_id=person.id,
                    as_of=AS_OF,
                    scored_at=AS_OF,
                    risk=risk,
                    rank=rank,
                    reasons={"reasons": reasons},
                )
            )
        session.commit()


def test_a_commercial_user_sees_hcps_at_risk_with_reasons_but_no_patient(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    _seed(live_store)
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)  # a shared, busy machine: the first request warms up
    page.goto(f"{live_server}/predictions")
    page.wait_for_url("**/auth/sign-in**")
    page.get_by_label("Email").fill("rep@pharma.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/predictions")

    nav = page.get_by_role("navigation", name="Main")
    assert "At risk" in [label.strip() for label in nav.get_by_role("link").all_inner_texts()]
    table = page.locator("#table-at-risk")
    assert table.is_visible()
    text = table.inner_text()
    assert "Dr Alma Quist" in text and "62%" in text
    assert "ping-pong" in text
    assert "withheld from your role" in text
    assert "medical inquiries answered late" not in text
    assert "Canary" not in page.content()
    assert "v3" in page.locator("#kpi-model").inner_text()
    assert "0.71" in page.locator("#kpi-auc").inner_text()
    context.close()
