"""Definitions (validation, versions, import/export) and response exports, through the API."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.surveys.models import Question, Response
from tests.factories import make_taxonomy
from tests.surveys.helpers import FULL_ANSWERS, example_document, make_invitation


def test_definition_versions_keep_what_each_response_answered(
    client: TestClient, session: Session
) -> None:
    make_taxonomy(session)
    document = example_document()
    created = client.post("/api/v1/surveys", json=document)
    assert created.status_code == 201, created.text
    survey_id = created.json()["id"]
    assert len(created.json()["questions"]) == 10
    assert client.post("/api/v1/surveys", json=document).json()["version"] == 1  # unchanged

    from cpxm.surveys.models import Survey

    survey = session.get(Survey, survey_id)
    assert survey is not None
    invitation = make_invitation(session, survey)
    assert client.post(f"/s/{invitation.token}", json={"answers": FULL_ANSWERS}).status_code == 201

    document["pages"][2]["questions"].pop()  # drop nurse_access
    document["pages"][0]["questions"][0]["prompt"]["en"] = "Would you recommend us?"
    second = client.post("/api/v1/surveys", json=document)
    assert second.status_code == 200 and second.json()["version"] == 2
    session.expire_all()
    dropped = session.scalars(select(Question).where(Question.code == "nurse_access")).one()
    assert dropped.removed_in_version == 2
    assert session.scalars(select(Response)).one().survey_version == 1
    exported_v1 = client.get(f"/api/v1/surveys/{survey_id}/definition", params={"version": 1})
    assert exported_v1.json()["pages"][2]["questions"][-1]["code"] == "nurse_access"
    # An exported definition imports again unchanged.
    current = client.get(f"/api/v1/surveys/{survey_id}/definition").json()
    assert client.post("/api/v1/surveys", json=current).json()["version"] == 2

    document["pages"][0]["questions"][0]["type"] = "csat"
    refused = client.post("/api/v1/surveys", json=document)
    assert refused.status_code == 422 and "give the changed question a new code" in refused.text


def test_invalid_definitions_list_every_fault(client: TestClient, session: Session) -> None:
    document = example_document()
    document["pages"][0]["questions"][2]["show_if"] = {"question": "later", "max": 6}
    document["pages"][1]["questions"][0]["code"] = "nps"
    document["introduction"] = "Hello {password}"
    document["pages"][1]["questions"][2]["max"] = None
    refused = client.post("/api/v1/surveys", json=document)
    assert refused.status_code == 422
    messages = " | ".join(item["msg"] for item in refused.json()["detail"])
    assert "'later', which is not asked before" in messages
    assert "question code 'nps' is used twice" in messages
    assert "unknown name '{password}'" in messages
    assert "needs min and max" in messages


def test_exports_escape_script_and_formulas(client: TestClient, session: Session) -> None:
    make_taxonomy(session)
    survey_id = client.post("/api/v1/surveys", json=example_document()).json()["id"]
    from cpxm.surveys.models import Survey

    survey = session.get(Survey, survey_id)
    assert survey is not None
    hostile = '=HYPERLINK("http://x") <script>alert(1)</script>'
    answers = {**FULL_ANSWERS, "reason": hostile}
    client.post(f"/s/{make_invitation(session, survey).token}", json={"answers": answers})

    exported = client.get(f"/api/v1/surveys/{survey_id}/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["reason"] == "'" + hostile  # a spreadsheet shows it as text
    assert rows[0]["nps"] == "4" and rows[0]["channels"] == "email;webinar"
    assert rows[0]["portal_chat"] == "A (like/neutral)"

    as_json = client.get(f"/api/v1/surveys/{survey_id}/export", params={"format": "json"})
    assert "<script>" not in as_json.text
    assert json.loads(as_json.text)[0]["reason"] == hostile

    parquet = client.get(f"/api/v1/surveys/{survey_id}/export", params={"format": "parquet"})
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column("nps").to_pylist() == [4] and table.column("reason").to_pylist() == [
        hostile
    ]
