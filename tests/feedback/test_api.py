from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem
from cpxm.safety.screening import screen_items, screen_pending
from tests.factories import make_stakeholder
from tests.safety.helpers import make_feedback


def test_posted_feedback_is_screened_after_commit(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    client = client_as("patient_services")
    created = client.post(
        "/api/v1/feedback",
        json={
            "source_kind": "web_form",
            "text": "Since starting the tablets I have awful diarrhoea. Call me on 0171 2345678.",
        },
    )
    assert created.status_code == 201, created.text
    feedback_id = created.json()["id"]
    # Its commit queued the screening (tests/safety/test_arrival.py); here the worker's sweep
    # screens it, on this test's store.
    assert client.get(f"/api/v1/feedback/{feedback_id}").json()["analysis_status"] == "pending"
    screen_pending(session, limit=10)
    session.commit()
    shown = client.get(f"/api/v1/feedback/{feedback_id}").json()
    assert shown["analysis_status"] == "done"
    assert shown["safety_kinds"] == ["ae"]
    # An adverse-event narrative is for the safety domain only, whatever else a role may see.
    assert shown["text"] is None and shown["redacted_text"] is None
    assert "safety narrative" in shown["text_withheld"]
    whole = client_as("pv_officer").get(f"/api/v1/feedback/{feedback_id}").json()
    assert "[PHONE]" in whole["redacted_text"]
    assert whole["text"].endswith("0171 2345678.")
    flagged = client.get("/api/v1/feedback", params={"safety_kind": "ae"}).json()
    assert [item["id"] for item in flagged["items"]] == [feedback_id]
    assert client.get("/api/v1/feedback", params={"safety_kind": "pc"}).json()["total"] == 0
    themed = client.get("/api/v1/feedback", params={"theme": "side_effects"}).json()
    assert [item["id"] for item in themed["items"]] == [feedback_id]


def test_redacted_text_for_roles_without_patient_data_and_firewall(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    comment = make_feedback(session, "Ask for Maria Lopez, the nurse was wonderful.")
    inquiry = make_feedback(
        session,
        "What is the stability of Oncox outside the fridge? Reply to a@b.org",
        source_kind="medical_inquiry",
    )
    screen_items(session, items=[comment, inquiry])
    session.commit()
    commercial = client_as("commercial")
    seen = commercial.get(f"/api/v1/feedback/{comment.id}").json()
    assert seen["text"] is None and "Maria Lopez" not in seen["redacted_text"]
    assert "[PERSON]" in seen["redacted_text"]
    hidden = commercial.get(f"/api/v1/feedback/{inquiry.id}").json()
    assert hidden["redacted_text"] is None and "medical" in hidden["text_withheld"]
    medical = client_as("medical").get(f"/api/v1/feedback/{inquiry.id}").json()
    assert medical["redacted_text"].endswith("Reply to [EMAIL]")

    listing = client_as("analyst").get("/api/v1/feedback", params={"sentiment": "positive"})
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["items"]] == [comment.id]


def test_bad_feedback_gets_field_errors(client_as: Callable[[str], TestClient]) -> None:
    answer = client_as("admin").post(
        "/api/v1/feedback", json={"source_kind": "fax", "text": "hello", "stakeholder_id": 999999}
    )
    assert answer.status_code == 422
    fields = {error["loc"][-1] for error in answer.json()["detail"]}
    assert fields == {"source_kind", "stakeholder_id"}


def test_feedback_page_lists_redacted_text(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    item = make_feedback(session, "Great rep. Email me at jo@example.org")
    screen_items(session, items=[item])
    session.commit()
    page = client_as("commercial").get("/feedback")
    assert page.status_code == 200
    assert "[EMAIL]" in page.text and "jo@example.org" not in page.text


def test_feedback_on_a_merged_id_lands_on_its_golden_record(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    golden = make_stakeholder(session)
    merged = make_stakeholder(session, status="merged", merged_into_id=golden.id)

    response = client_as("admin").post(
        "/api/v1/feedback",
        json={"source_kind": "web_form", "text": "The portal is slow", "stakeholder_id": merged.id},
    )

    assert response.status_code == 201, response.text
    stored = session.get(FeedbackItem, response.json()["id"])
    assert stored is not None and stored.stakeholder_id == golden.id
