"""The backlog and maturity over HTTP: create, change, read by role, and the pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import make_stakeholder, make_taxonomy
from tests.initiatives.helpers import AS_OF, answer, feedback, kano_survey, questions

BODY = {
    "code": "reliable_supply",
    "title": "Warn pharmacies before a supply gap",
    "problem": "Pharmacies run out without warning.",
    "owner": "Supply chain",
    "theme": "supply_availability",
    "impact": 2,
    "confidence": 50,
    "effort": 2,
    "kano_survey": "features",
    "kano_questions": ["portal"],
}


def _seed(session: Session) -> None:
    make_taxonomy(session)
    survey = kano_survey(session)
    asked = questions(session, survey)
    for number in range(8):
        person = make_stakeholder(session, type="pharmacy")
        feedback(
            session, stakeholder=person, at=AS_OF - timedelta(days=number),
            themes=("supply_availability",), text=f"Out of stock again, week {number}.",
        )  # fmt: skip
        answer(session, survey=survey, stakeholder=person, at=AS_OF,
               kano={asked["portal"]: ("expect", "dislike")})  # fmt: skip
    session.commit()


def test_create_list_change_and_read_an_initiative(
    client: TestClient, session: Session, client_as: Callable[[str], TestClient]
) -> None:
    _seed(session)
    created = client.post("/api/v1/initiatives", json=BODY)
    assert created.status_code == 201, created.text
    assert created.json()["reach"] == 8
    assert created.json()["rice"] == 8 * 2 * 0.5 / 2
    again = client.post("/api/v1/initiatives", json=BODY)
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "code"]

    listed = client.get("/api/v1/initiatives", params={"stakeholder_type": "pharmacy"}).json()
    assert listed["total"] == 1 and listed["items"][0]["code"] == "reliable_supply"
    assert (
        client.get("/api/v1/initiatives", params={"stakeholder_type": "hcp"}).json()["total"] == 1
    )  # an initiative for everyone shows under every type

    changed = client.patch(
        "/api/v1/initiatives/reliable_supply",
        json={"status": "shipped", "shipped_on": "2025-06-01", "moscow": "must"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "shipped" and changed.json()["moscow"] == "must"
    refused = client.patch("/api/v1/initiatives/reliable_supply", json={"impact": 1.7})
    assert refused.status_code == 422

    detail = client.get("/api/v1/initiatives/reliable_supply").json()
    assert detail["theme"]["items"] == 8
    assert detail["kano"]["features"][0]["category"] == "M"
    assert detail["before_after"]["shipped_on"] == "2025-06-01"
    assert len(detail["verbatims"]["items"]) == 5
    assert detail["verbatims"]["items"][0]["redacted_text"].startswith("Out of stock")

    # A viewer sees figures, never the comments; a commercial user cannot change the backlog.
    viewer = client_as("viewer").get("/api/v1/initiatives/reliable_supply").json()
    assert viewer["verbatims"]["items"] == []
    assert "figures" in viewer["verbatims"]["withheld"]
    assert viewer["theme"]["items"] == 8
    commercial = client_as("commercial")
    assert (
        commercial.patch("/api/v1/initiatives/reliable_supply", json={"owner": "x"}).status_code
        == 403
    )


def test_missing_initiative_and_bad_filters(client: TestClient) -> None:
    assert client.get("/api/v1/initiatives/nothing_here").status_code == 404
    assert client.get("/api/v1/initiatives", params={"status": "done"}).status_code == 422


def test_maturity_endpoint_and_pages(client: TestClient, session: Session) -> None:
    _seed(session)
    client.post("/api/v1/initiatives", json=BODY)
    maturity = client.get("/api/v1/maturity").json()
    assert [c["code"] for c in maturity["capabilities"]] == [
        "journeys", "closed_loop", "governance", "insight", "prediction",
    ]  # fmt: skip
    assert maturity["overall_stage"] in ("crawl", "walk", "run")
    page = client.get("/maturity")
    assert page.status_code == 200 and "Next steps" in page.text
    backlog = client.get("/initiatives", params={"therapeutic_area": "oncology"})
    assert backlog.status_code == 200 and "Warn pharmacies" in backlog.text
    detail = client.get("/initiatives/reliable_supply")
    assert detail.status_code == 200
    assert "Kano&#39;s evaluation table" in detail.text or "evaluation table" in detail.text
    assert "Out of stock" in detail.text
    csv = client.get("/initiatives/export/backlog.csv")
    assert csv.status_code == 200 and csv.text.splitlines()[0].startswith("code,title")


def test_a_cx_manager_changes_status_on_the_page(
    client: TestClient, session: Session, client_as: Callable[[str], TestClient]
) -> None:
    _seed(session)
    client.post("/api/v1/initiatives", json=BODY)
    page = client.get("/initiatives/reliable_supply")
    assert 'action="/initiatives/reliable_supply"' in page.text  # the form, for a CX manager
    analyst = client_as("analyst")
    assert 'method="post"' not in analyst.get("/initiatives/reliable_supply").text
    form = {"status": "shipped", "moscow": "must", "shipped_on": ""}
    assert analyst.post("/initiatives/reliable_supply", data=form).status_code == 403
    missing_day = client.post("/initiatives/reliable_supply", data=form)
    assert missing_day.status_code == 422
    assert "a shipped initiative needs the day it shipped" in missing_day.text
    saved = client.post(
        "/initiatives/reliable_supply", data={**form, "shipped_on": "2025-06-01"},
        follow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303
    detail = client.get("/api/v1/initiatives/reliable_supply").json()
    assert (detail["status"], detail["moscow"]) == ("shipped", "must")
    assert detail["before_after"]["shipped_on"] == "2025-06-01"
