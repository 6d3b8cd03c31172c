"""The analytics API, pages, CSV exports and drill-down through the whole app, with access."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from altair.vegalite.v6.schema.core import TopLevelSpec
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem
from cpxm.journeys.models import Journey, JourneyStage
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)


def _seed(session: Session) -> None:
    """40 HCP answers in Germany (NPS +50), 40 in France (NPS -50), a patient's comment, and a
    ping-pong: three departments contacting one HCP within a week."""
    make_taxonomy(session)
    survey = make_survey(session, code="relationship")
    nps = make_question(session, survey=survey, question_type="nps")
    rating = make_question(session, survey=survey, question_type="rating", position=2, code="speed")
    comment = make_question(session, survey=survey, question_type="text", position=3)
    for country, scores in (
        ("DE", [10] * 25 + [8] * 10 + [2] * 5),
        ("FR", [10] * 5 + [8] * 10 + [2] * 25),
    ):
        person = make_stakeholder(session, country_code=country)
        for index, score in enumerate(scores):
            make_response(
                session,
                survey=survey,
                stakeholder=person,
                started_at=datetime(2025, 1 + index % 3, 10),
                answers={nps: score, rating: 1 + score // 3},
            )
    patient = make_stakeholder(
        session, type="patient", display_name="Pat Private", country_code="DE"
    )
    said = make_response(
        session, survey=survey, stakeholder=patient, answers={nps: 0, comment: "awful"}
    )
    session.add(
        FeedbackItem(
            source_kind="survey_comment", text="awful", stakeholder_id=patient.id,
            received_at=said.started_at, response_id=said.id,
        )
    )  # fmt: skip
    busy = make_stakeholder(session, display_name="Dr Busy", country_code="DE")
    start = datetime(2025, 3, 20, 9)
    journey = Journey(code="engagement", name="Engagement", stakeholder_type="hcp")
    session.add(journey)
    session.flush()
    stages = [
        JourneyStage(journey_id=journey.id, code=code, name=code.title(), position=position)
        for position, code in enumerate(("aware", "engaged", "loyal"), start=1)
    ]
    session.add_all(stages)
    session.flush()
    for offset, department in enumerate(("sales", "medical_affairs", "patient_services")):
        make_interaction(
            session,
            stakeholder=busy,
            occurred_at=start + timedelta(days=offset),
            department_code=department,
            journey_stage_id=stages[offset].id,
        )


def _specs(html: str) -> dict[str, dict[str, Any]]:
    blocks = re.findall(r'<script type="application/json" id="chart-([a-z]+)">(.*?)</script>', html)
    return {name: json.loads(body) for name, body in blocks}


def test_metrics_api_answers_segments_and_errors(client: TestClient, session: Session) -> None:
    _seed(session)

    report = client.get(
        "/api/v1/analytics/metrics",
        params={
            "metric": "nps",
            "segment": "country",
            "grain": "month",
            "filter": "stakeholder_type:hcp",
        },
    )
    bad = client.get("/api/v1/analytics/metrics", params={"metric": "nps", "filter": "country:XX"})
    malformed = client.get("/api/v1/analytics/metrics", params={"filter": "country"})

    assert report.status_code == 200
    body = report.json()
    segments = {cell["key"]: cell for cell in body["segments"]}
    assert segments["DE"]["value"] == 50.0 and segments["DE"]["significant"]
    assert [cell["key"] for cell in body["trend"]] == ["2025-01-01", "2025-02-01", "2025-03-01"]
    assert bad.status_code == 422 and "unknown country 'XX'" in bad.json()["detail"][0]["msg"]
    assert malformed.status_code == 422


def test_metrics_page_charts_tables_and_csv(client: TestClient, session: Session) -> None:
    _seed(session)
    query = "metric=nps&segment=country&grain=month&filter=stakeholder_type:hcp&min_n=20"

    page = client.get(f"/analytics/metrics?{query}")
    exported = client.get(f"/analytics/metrics/export/segments.csv?{query}")

    assert page.status_code == 200
    specs = _specs(page.text)
    assert set(specs) == {"segments", "trend"}
    for spec in specs.values():
        TopLevelSpec.validate(spec)
    assert 'id="table-segments"' in page.text and "Germany" in page.text
    assert "/analytics/metrics/responses?" in page.text  # drill-down links
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert exported.headers["content-type"].startswith("text/csv")
    assert {row["key"]: row["value"] for row in rows} == {"DE": "50", "FR": "-50"}


def test_drilldown_pseudonymises_patients_for_roles_without_patient_data(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    _seed(session)
    url = (
        "/api/v1/analytics/metrics/responses"
        "?metric=nps&segment=stakeholder_type&segment_key=patient"
    )

    analyst = client_as("analyst").get(url)
    viewer = client_as("viewer").get(url)
    overview_for_viewer = client_as("viewer").get("/api/v1/analytics/metrics?metric=nps")

    assert analyst.status_code == 200
    (row,) = analyst.json()["items"]
    assert row["stakeholder"].startswith("Patient ") and "Pat Private" not in analyst.text
    assert row["comment"] != "awful"
    assert viewer.status_code == 403  # answers are records; viewers see aggregates only
    assert overview_for_viewer.status_code == 200


def test_drilldown_shows_patients_to_roles_that_may_see_them(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    _seed(session)

    page = client_as("patient_services").get(
        "/analytics/metrics/responses?metric=nps&segment=stakeholder_type&segment_key=patient"
    )

    assert page.status_code == 200
    assert "Pat Private" in page.text and "awful" in page.text


def test_every_analytics_page_renders_with_valid_charts(
    client: TestClient, session: Session
) -> None:
    _seed(session)

    for path in (
        "/analytics/drivers?survey=relationship&themes=false&min_n=10",
        "/analytics/coordination?as_of=2025-03-25",
        "/analytics/journeys",
        "/analytics/impact",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        for spec in _specs(response.text).values():
            TopLevelSpec.validate(spec)
    coordination = client.get("/analytics/coordination?as_of=2025-03-25").text
    assert "Dr Busy" in coordination


def test_coordination_names_stakeholders_only_for_roles_that_see_records(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    _seed(session)
    url = "/api/v1/analytics/coordination?as_of=2025-03-25"

    named = client_as("commercial").get(url).json()
    aggregate_only = client_as("viewer").get(url).json()

    assert [row["name"] for row in named["affected"]] == ["Dr Busy"]
    assert named["affected"][0]["departments"] == 3
    assert aggregate_only["affected"] == [] and aggregate_only["episodes"] == 1


def test_every_table_exports_as_csv(client: TestClient, session: Session) -> None:
    _seed(session)

    for path in (
        "/analytics/metrics/export/trend.csv?grain=month",
        "/analytics/metrics/export/overall.csv",
        "/analytics/metrics/responses.csv?segment=country&segment_key=DE",
        "/analytics/drivers/export/drivers.csv?survey=relationship&themes=false&min_n=10",
        "/analytics/coordination/export/departments.csv",
        "/analytics/coordination/export/channels.csv",
        "/analytics/coordination/export/distribution.csv",
        "/analytics/coordination/export/episodes.csv",
        "/analytics/coordination/export/affected.csv?as_of=2025-03-25",
        "/analytics/journeys/export/stages.csv",
        "/analytics/journeys/export/paths.csv",
        "/analytics/journeys/export/peak-end.csv",
        "/analytics/impact/export/impact.csv",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/csv"), path
        assert response.text.splitlines()[0].count(",") >= 1, path
    drilled = list(csv.DictReader(io.StringIO(client.get(
        "/analytics/metrics/responses.csv?segment=country&segment_key=DE"
    ).text)))  # fmt: skip
    assert len(drilled) == 41  # 40 HCP answers and the patient's, all in Germany
