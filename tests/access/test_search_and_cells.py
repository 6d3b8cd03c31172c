"""Side channels: a search never matches what a role may not see, a person is not looked up by
a real id the role may not know, and no aggregate describes fewer people than the workspace's
minimum cell size, also by subtraction from a total."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.access.cells import complementary
from cpxm.workspace.models import Country
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)


def test_q_never_matches_a_name_the_role_may_not_see(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_stakeholder(session, type="patient", display_name="Maria Keller")
    make_stakeholder(session, type="hcp", display_name="Dr Maria Weber")
    session.commit()
    commercial = client_as("commercial")
    # The issue recovered a name letter by letter: "M" matched, "Ma" matched, ...
    for prefix in ("M", "Ma", "Maria K", "Keller"):
        found = commercial.get("/api/v1/stakeholders", params={"q": prefix, "type": "patient"})
        assert found.json()["total"] == 0, prefix
    hcps = commercial.get("/api/v1/stakeholders", params={"q": "Maria"}).json()
    assert [s["display_name"] for s in hcps["items"]] == ["Dr Maria Weber"]
    services = client_as("patient_services").get(
        "/api/v1/stakeholders", params={"q": "Keller", "type": "patient"}
    )
    assert services.json()["total"] == 1


def test_a_patient_is_not_looked_up_by_a_real_id_the_role_may_not_know(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_taxonomy(session)
    patient = make_stakeholder(session, type="patient", display_name="Maria Keller")
    make_interaction(session, stakeholder=patient, department_code="sales", notes="visit")
    session.commit()
    commercial = client_as("commercial")
    # Answering with the key would tie the real id to it; the answer is that of an unknown id.
    assert commercial.get(f"/api/v1/stakeholders/{patient.id}").status_code == 404
    assert commercial.get("/api/v1/stakeholders/999999").status_code == 404
    filtered = commercial.get("/api/v1/interactions", params={"stakeholder_id": patient.id})
    assert filtered.json()["total"] == 0
    assert client_as("patient_services").get(f"/api/v1/stakeholders/{patient.id}").is_success
    listed = client_as("cx_lead").get("/api/v1/interactions", params={"stakeholder_id": patient.id})
    assert listed.json()["total"] == 1


def _seed_scores(session: Session, sizes: dict[str, int]) -> None:
    make_taxonomy(session)
    session.add(Country(code="IT", name="Italy", default_language="it"))
    survey = make_survey(session)
    nps = make_question(session, survey=survey)
    for country, size in sizes.items():
        person = make_stakeholder(session, country_code=country)
        for index in range(size):
            make_response(
                session,
                survey=survey,
                stakeholder=person,
                started_at=datetime(2025, 3, 1 + index % 20, 9),
                answers={nps: 10 if index % 2 else 3},
            )
    session.commit()


def test_no_request_lowers_the_minimum_cell_size(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    _seed_scores(session, {"DE": 12, "FR": 8, "IT": 1})
    viewer = client_as("viewer")
    report = viewer.get(
        "/api/v1/analytics/metrics", params={"metric": "nps", "segment": "country", "min_n": 1}
    ).json()
    assert report["query"]["min_n"] == 5  # the workspace's default, not the request's 1
    cells = {cell["key"]: cell for cell in report["segments"]}
    assert cells["IT"]["suppressed"] and cells["IT"]["value"] is None
    # Complementary: IT alone could be read off the total minus DE and FR; FR goes too.
    assert cells["FR"]["suppressed"] and cells["FR"]["value"] is None
    assert not cells["DE"]["suppressed"] and cells["DE"]["value"] is not None
    assert report["overall"]["value"] is not None


def test_an_admin_sets_the_minimum_cell_size_for_the_workspace(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    _seed_scores(session, {"DE": 12, "FR": 8, "IT": 9})
    viewer = client_as("viewer")
    assert viewer.get("/api/v1/privacy/settings").json() == {"min_cell_size": 5}
    refused = viewer.put("/api/v1/privacy/settings", json={"min_cell_size": 1})
    assert refused.status_code == 403
    admin = client_as("admin")
    changed = admin.put("/api/v1/privacy/settings", json={"min_cell_size": 10})
    assert changed.json() == {"min_cell_size": 10}
    assert admin.put("/api/v1/privacy/settings", json={"min_cell_size": 0}).status_code == 422
    report = viewer.get(
        "/api/v1/analytics/metrics",
        params={"metric": "nps", "segment": "country", "min_n": 2, "date_from": "2025-01-01"},
    ).json()
    cells = {cell["key"]: cell for cell in report["segments"]}
    assert report["query"]["min_n"] == 10
    assert cells["FR"]["suppressed"] and cells["IT"]["suppressed"]
    assert not cells["DE"]["suppressed"]


def test_complementary_suppression_leaves_nothing_to_subtract() -> None:
    assert complementary([12, 8, 3], min_n=5) == {2, 1}
    assert complementary([12, 8, 3, 2], min_n=5) == {2, 3}  # two hidden, together 5
    assert complementary([12, 8, 2, 1], min_n=5) == {1, 2, 3}  # 2 + 1 < 5: hide 8 as well
    assert complementary([12, 8, 6], min_n=5) == set()
    assert complementary([12, 3], min_n=5, total_shown=False) == {1}
    # A cell already hidden for too few answers for a score (20 < 30) is a complement.
    assert complementary([40, 20, 3], min_n=5, already_hidden={1}) == {1, 2}
    assert complementary([40, 20, 9], min_n=5, already_hidden={1}) == set()
