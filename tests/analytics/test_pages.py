from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from altair.vegalite.v6.schema.core import TopLevelSpec
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)


def _chart_specs(html: str) -> dict[str, dict[str, Any]]:
    blocks = re.findall(r'<script type="application/json" id="chart-([a-z]+)">(.*?)</script>', html)
    return {name: json.loads(body) for name, body in blocks}


def _seed(session: Session) -> None:
    make_taxonomy(session)
    hcps = [make_stakeholder(session, type="hcp") for _ in range(3)]
    patient = make_stakeholder(session, type="patient")
    for month in (1, 2, 3):
        make_interaction(session, stakeholder=hcps[0], occurred_at=datetime(2025, month, 5))
    make_interaction(
        session,
        stakeholder=patient,
        occurred_at=datetime(2025, 3, 9),
        channel_code="phone",
        department_code="patient_services",
    )
    survey = make_survey(session)
    nps = make_question(session, survey=survey, question_type="nps")
    csat = make_question(session, survey=survey, question_type="csat", position=2)
    for stakeholder, value in [(hcps[0], 10), (hcps[1], 9), (hcps[2], 3), (patient, 10)]:
        make_response(
            session, survey=survey, stakeholder=stakeholder, answers={nps: value, csat: 4}
        )


def test_overview_shows_counts_scores_and_valid_chart_specs(
    client: TestClient, session: Session
) -> None:
    _seed(session)
    pulse = make_survey(session, kind="employee_pulse")
    enps = make_question(session, survey=pulse, question_type="nps")
    employee = make_stakeholder(session, type="employee")
    make_response(session, survey=pulse, stakeholder=employee, answers={enps: 0})

    response = client.get("/")

    assert response.status_code == 200
    html = response.text
    specs = _chart_specs(html)
    assert set(specs) == {"stakeholders", "channels", "departments", "nps"}
    for spec in specs.values():
        TopLevelSpec.validate(spec)
        # Every mark reads the inlined rows: no placeholder dataset shadows them in a layer.
        assert "datasets" not in spec
        assert all("data" not in layer for layer in spec.get("layer", []))
        assert spec["data"]["values"]
    assert {
        row["type"]: row["stakeholders"] for row in specs["stakeholders"]["data"]["values"]
    } == {
        "HCP": 3,
        "Patient": 1,
        "Employee": 1,
    }
    channel_rows = specs["channels"]["data"]["values"]
    assert {"month": "2025-03-01", "channel": "Phone", "interactions": 1} in channel_rows
    # NPS: 3 promoters, 1 detractor of 4 = +50; CSAT all 4s = 100%; formatted as in analytics.
    # The employee's pulse answer is eNPS, apart: it moves neither the NPS nor its n.
    kpi_nps = re.search(r'id="kpi-nps".*?class="kpi-value">([^<]+)<', html, re.S)
    kpi_csat = re.search(r'id="kpi-csat".*?class="kpi-value">([^<]+)<', html, re.S)
    kpi_enps = re.search(r'id="kpi-enps".*?class="kpi-value">([^<]+)<', html, re.S)
    assert kpi_nps is not None and kpi_nps.group(1) == "+50.0"
    assert kpi_csat is not None and kpi_csat.group(1) == "100.0%"
    assert kpi_enps is not None and kpi_enps.group(1) == "-100.0"
    assert "n = 4" in html
    assert "Employee</th>" not in html[html.index('id="table-scores"') :]
    table = html[html.index('id="table-stakeholders"') :]
    assert re.search(r"HCP</th><td class=\"num\">3</td>", table)
    assert '<a href="/" aria-current="page">Overview</a>' in html


def test_overview_loads_the_versioned_bundle_and_chart_script(
    client: TestClient, session: Session
) -> None:
    _seed(session)

    html = client.get("/").text
    scripts = re.findall(r'<script src="([^"]+)" defer></script>', html)

    assert len(scripts) == 2
    assert re.fullmatch(r"/static/vendor/vega-embed-[\d.]+-vl\d+\.\d+\.js", scripts[0])
    assert scripts[1].startswith("/static/charts.js")
    assert client.get(scripts[1]).status_code == 200


def test_empty_store_renders_a_friendly_empty_state(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert "No data yet" in response.text
    assert "cpxm demo" in response.text
    assert _chart_specs(response.text) == {}
    assert "vega-embed" not in response.text


def test_overview_reflects_new_interactions(client: TestClient, session: Session) -> None:
    _seed(session)
    before = client.get("/").text
    stakeholder_id = client.get("/api/v1/stakeholders").json()["items"][0]["id"]
    created = client.post(
        "/api/v1/interactions",
        json={
            "stakeholder_id": stakeholder_id,
            "occurred_at": "2025-03-20T10:00:00",
            "channel": "email",
            "department": "sales",
            "interaction_type": "follow_up",
            "direction": "outbound",
        },
    )

    after = client.get("/").text

    assert created.status_code == 201
    assert 'class="kpi-value">4<' in before
    assert 'class="kpi-value">5<' in after
