"""Record-level access as a user meets it: ``cpxm serve`` in its own process, restarted, with no
``CPXM_SECRET_KEY`` set (the issue's pseudonyms changed on every restart then)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import url_of
from tests.factories import (
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)
from tests.served import served

NO_SECRET = {"CPXM_SECRET_KEY": ""}


def test_a_patient_keeps_one_key_across_routes_exports_and_restarts(
    store_engine: Engine, tmp_path: Path
) -> None:
    with Session(store_engine) as session:
        make_taxonomy(session)
        patient = make_stakeholder(
            session, type="patient", display_name="Greta Hansen", email="greta@example.org"
        )
        survey = make_survey(session, code="psp_experience")
        nps = make_question(session, survey=survey)
        comment = make_question(session, survey=survey, question_type="text", position=2)
        make_response(
            session,
            survey=survey,
            stakeholder=patient,
            answers={nps: 4, comment: "reach me at greta@example.org, the rash is back"},
        )
        patient_id, survey_id = patient.id, survey.id
        session.commit()

    keys = []
    tokens: dict[str, str] = {}
    for _restart in range(2):
        with served(url_of(store_engine), tmp_path, extra_environment=NO_SECRET) as running:
            running.tokens.update(tokens)  # the users and tokens of the first run stay valid
            with running.client("commercial") as commercial:
                listed = commercial.get("/api/v1/stakeholders", params={"type": "patient"})
                (shown,) = listed.json()["items"]
                assert shown["id"] is None and "Greta" not in listed.text
                exported = commercial.get(f"/api/v1/surveys/{survey_id}/export")
                assert exported.status_code == 200, exported.text
                (row,) = csv.DictReader(io.StringIO(exported.text))
                # The key, not the real id; the patient's words withheld.
                assert row["stakeholder_key"] == shown["key"] and row["stakeholder_id"] == ""
                assert "rash" not in exported.text and "greta" not in exported.text.lower()
                response = commercial.get("/api/v1/responses", params={"survey_id": survey_id})
                (listed_response,) = response.json()["items"]
                assert listed_response["stakeholder_key"] == shown["key"]
                assert str(patient_id) not in [str(listed_response["stakeholder_id"])]
                keys.append(shown["key"])
            with running.client("patient_services") as services:
                whole = services.get(f"/api/v1/stakeholders/{patient_id}").json()
                assert whole["display_name"] == "Greta Hansen" and whole["key"] is None
            tokens = dict(running.tokens)
    assert keys[0] == keys[1], "the pseudonymous key changed when the server restarted"
