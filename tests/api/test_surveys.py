from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import make_question, make_response, make_stakeholder, make_survey


def test_surveys_list_filters_by_kind_and_status(client: TestClient, session: Session) -> None:
    relationship = make_survey(session, kind="relationship", status="active")
    pulse = make_survey(session, kind="employee_pulse", status="closed")
    make_survey(session, kind="relationship", status="draft")

    def ids(**params: str) -> set[int]:
        body = client.get("/api/v1/surveys", params=params).json()
        assert body["total"] == len(body["items"])
        return {item["id"] for item in body["items"]}

    assert len(ids()) == 3
    assert ids(kind="employee_pulse") == {pulse.id}
    assert ids(kind="relationship", status="active") == {relationship.id}
    assert client.get("/api/v1/surveys", params={"status": "paused"}).status_code == 422


def test_survey_detail_lists_questions_in_order(client: TestClient, session: Session) -> None:
    survey = make_survey(session)
    make_question(session, survey=survey, question_type="text", position=2, code="why")
    make_question(session, survey=survey, question_type="nps", position=1, code="ltr")

    body = client.get(f"/api/v1/surveys/{survey.id}").json()

    assert [(q["code"], q["question_type"]) for q in body["questions"]] == [
        ("ltr", "nps"),
        ("why", "text"),
    ]
    assert client.get("/api/v1/surveys/424242").status_code == 404


def test_responses_list_filters(client: TestClient, session: Session) -> None:
    survey = make_survey(session)
    other_survey = make_survey(session)
    anna = make_stakeholder(session)
    early = make_response(
        session, survey=survey, stakeholder=anna, submitted_at=datetime(2025, 1, 10)
    )
    late = make_response(session, survey=survey, submitted_at=datetime(2025, 6, 10))
    partial = make_response(session, survey=other_survey, status="partial")

    def ids(**params: str | int) -> set[int]:
        response = client.get("/api/v1/responses", params=params)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == len(response.json()["items"])
        return {item["id"] for item in response.json()["items"]}

    assert ids() == {early.id, late.id, partial.id}
    assert ids(survey_id=survey.id) == {early.id, late.id}
    assert ids(stakeholder_id=anna.id) == {early.id}
    assert ids(status="partial") == {partial.id}
    assert ids(submitted_from="2025-02-01") == {late.id}
    assert ids(submitted_to="2025-02-01") == {early.id}


def test_responses_paginate(client: TestClient, session: Session) -> None:
    survey = make_survey(session)
    for day in range(1, 6):
        make_response(session, survey=survey, started_at=datetime(2025, 1, day))

    body = client.get("/api/v1/responses", params={"limit": 2, "offset": 2}).json()

    assert body["total"] == 5
    assert [item["started_at"][:10] for item in body["items"]] == ["2025-01-03", "2025-01-02"]


def test_response_detail_carries_its_answers(client: TestClient, session: Session) -> None:
    survey = make_survey(session)
    nps = make_question(session, survey=survey, question_type="nps", position=1, code="ltr")
    why = make_question(session, survey=survey, question_type="text", position=2, code="why")
    response = make_response(session, survey=survey, answers={why: "Fast answers", nps: 9})

    body = client.get(f"/api/v1/responses/{response.id}").json()

    assert [(a["question_code"], a["value_number"], a["value_text"]) for a in body["answers"]] == [
        ("ltr", 9.0, None),
        ("why", None, "Fast answers"),
    ]
    assert client.get("/api/v1/responses/424242").json() == {"detail": "response 424242 not found"}
