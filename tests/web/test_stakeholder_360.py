"""Stakeholder search (API and page) and the 360 profile page, per role, on both engines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.cases import service as cases
from cpxm.cases.models import Case
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.identity.models import AttributeProvenance, SourceRecord
from cpxm.safety.models import SafetyCase
from cpxm.stakeholders.models import Consent, Stakeholder
from cpxm.timeutil import utc_now
from tests.factories import (
    make_affiliation,
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)
from tests.surveys.helpers import make_invitation


@dataclass
class World:
    hcp: Stakeholder
    merged: Stakeholder
    patient: Stakeholder
    hospital: Stakeholder


def _world(session: Session) -> World:
    make_taxonomy(session)
    hospital = make_stakeholder(session, type="hospital", display_name="Klinikum Rechts der Isar")
    hcp = make_stakeholder(
        session,
        display_name="Dr Hanna Herrmann",
        first_name="Hanna",
        last_name="Herrmann",
        email="h.herrmann@klinik.example",
        professional_id="LANR-4711",
        country_code="DE",
        city="München",
        therapeutic_areas=("oncology",),
        channel_preferences=("email", "phone"),
    )
    make_affiliation(session, person=hcp, organisation=hospital, role="attending")
    merged = make_stakeholder(
        session, display_name="H. Herrmann", status="merged", merged_into_id=hcp.id
    )
    patient = make_stakeholder(
        session,
        type="patient",
        display_name="Paula Patientin",
        email="paula@home.example",
        country_code="DE",
    )
    record = SourceRecord(
        source_system="crm",
        source_id="CRM-881",
        stakeholder_id=hcp.id,
        attributes={"type": "hcp", "email": "h.herrmann@klinik.example"},
        imported_at=datetime(2026, 1, 2),
    )
    session.add(record)
    session.flush()
    session.add(
        AttributeProvenance(
            stakeholder_id=hcp.id,
            attribute="email",
            source_record_id=record.id,
            rule="trust",
            reason="most trusted source",
        )
    )
    session.add(
        Consent(
            stakeholder_id=hcp.id,
            purpose="survey",
            channel_code="email",
            status="granted",
            recorded_at=datetime(2026, 1, 5),
            source="crm",
        )
    )
    now = utc_now().replace(tzinfo=None)
    for day in range(60):
        make_interaction(
            session,
            stakeholder=hcp,
            occurred_at=now - timedelta(days=day, hours=1),
            channel_code="phone" if day % 3 == 0 else "email",
            department_code="sales",
            notes=f"sales call {day}",
        )
    make_interaction(
        session,
        stakeholder=hcp,
        occurred_at=now - timedelta(days=200),
        department_code="medical_affairs",
        channel_code="face_to_face",
        notes="MEDNOTE dosing in renal impairment",
    )
    survey = make_survey(session, name="HCP relationship pulse")
    nps = make_question(session, survey=survey, prompt="Would you recommend us?")
    make_invitation(session, survey, hcp)
    make_response(session, survey=survey, stakeholder=hcp, answers={nps: 3})
    item = FeedbackItem(
        source_kind="web_form",
        text="AENARRATIVE I got a rash after the injection",
        stakeholder_id=hcp.id,
        received_at=now,
        analysis_status="done",
    )
    session.add(item)
    session.flush()
    session.add(
        FeedbackAnalysis(
            feedback_item_id=item.id,
            sentiment_label="negative",
            sentiment_score=-0.6,
            themes=[],
            redacted_text="AENARRATIVE I got a rash after the injection",
            pii_kinds=[],
            safety_kinds=["ae"],
            safety_contexts=["affirmed"],
            safety_mentions=[],
            analysed_at=now,
        )
    )
    cases.open_case(session, case_type="detractor", title="Detractor: NPS 3", stakeholder_id=hcp.id)
    session.add(
        SafetyCase(
            feedback_item_id=item.id,
            kind="ae",
            subtypes=["adverse_event"],
            verbatim="AENARRATIVE I got a rash",
            event_terms=["rash"],
            context="affirmed",
            mentions=[],
            has_patient=True,
            has_reporter=True,
            has_product=False,
            has_event=True,
            reporter_stakeholder_id=hcp.id,
            source_kind="web_form",
            aware_at=now,
            due_at=now + timedelta(days=1),
            created_at=now,
        )
    )
    session.commit()
    return World(hcp=hcp, merged=merged, patient=patient, hospital=hospital)


def _names(answer: dict[str, Any]) -> list[str]:
    return [item["display_name"] for item in answer["items"]]


def test_search_finds_by_name_email_id_institution_and_a_merged_id(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    world = _world(session)
    commercial = client_as("commercial")

    def search(q: str) -> dict[str, Any]:
        answer = commercial.get("/api/v1/stakeholders/search", params={"q": q})
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    for q in ("herrmann", "h.herrmann@klinik", "LANR-4711", "Rechts der Isar", str(world.hcp.id)):
        assert "Dr Hanna Herrmann" in _names(search(q)), q
    by_institution = search("Rechts der Isar")["items"]
    hit = next(i for i in by_institution if i["display_name"] == "Dr Hanna Herrmann")
    assert hit["institution"] == "Klinikum Rechts der Isar"
    assert hit["type"] == "hcp" and hit["country"] == "DE"
    # A merged record's id leads to the golden record, never to the merged one.
    found = search(str(world.merged.id))
    assert _names(found) == ["Dr Hanna Herrmann"]
    assert found["items"][0]["matched_merged_id"] == world.merged.id
    assert "H. Herrmann" not in _names(search("Herrmann"))


def test_search_never_matches_a_patient_for_a_role_that_may_not_see_them(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    world = _world(session)
    for q in ("Paula", "paula@home", str(world.patient.id)):
        answer = client_as("commercial").get("/api/v1/stakeholders/search", params={"q": q})
        # An id's digits may be in an HCP's professional id, so that HCP may be found.
        assert "Paula Patientin" not in _names(answer.json()), q
        assert all(item["type"] != "patient" for item in answer.json()["items"]), q
        page = client_as("analyst").get("/stakeholders", params={"q": q})
        assert page.status_code == 200 and "Paula Patientin" not in page.text, q
        seen = client_as("patient_services").get("/api/v1/stakeholders/search", params={"q": q})
        assert _names(seen.json())[0] == "Paula Patientin", q
    viewer = client_as("viewer").get("/api/v1/stakeholders/search", params={"q": "x"})
    assert viewer.status_code == 403


def test_the_search_page_lists_golden_records_with_links(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    world = _world(session)
    page = client_as("cx_lead").get("/stakeholders", params={"q": "Isar"})
    assert page.status_code == 200
    assert f'href="/stakeholders/{world.hcp.id}"' in page.text
    assert "Klinikum Rechts der Isar" in page.text
    everyone = client_as("cx_lead").get("/stakeholders")
    assert "Paula Patientin" in everyone.text and "H. Herrmann" not in everyone.text
    pseudonymous = client_as("commercial").get("/stakeholders", params={"type": "patient"})
    assert "Paula" not in pseudonymous.text
    assert f'href="/stakeholders/{world.patient.id}"' not in pseudonymous.text
    bad = client_as("cx_lead").get("/stakeholders", params={"type": "alien"})
    assert bad.status_code == 400


def test_the_profile_shows_everything_known_about_the_person(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    world = _world(session)
    page = client_as("pv_officer").get(f"/stakeholders/{world.hcp.id}")
    assert page.status_code == 200, page.text
    text = page.text
    # Identity with its source record and the attribute it gave.
    assert "CRM-881" in text and "most trusted source" in text
    assert "Klinikum Rechts der Isar" in text  # affiliation
    assert "Survey" in text and "granted" in text  # consent in force
    assert "Oncology" in text  # therapeutic interest
    # Contact pressure: 7 contacts in the last 7 days.
    assert 'Contacts, last 7 days</span><span class="kpi-value">7<' in text
    # Timeline: 61 interactions, newest first, paged by 50.
    assert "61 interaction(s)" in text and "sales call 0" in text and "sales call 55" not in text
    assert "HCP relationship pulse" in text and "Would you recommend us?" in text
    assert "AENARRATIVE" in text  # feedback, to PV
    assert "Detractor: NPS 3" in text
    assert "/safety/cases/" in text  # safety cases, to PV
    older = client_as("pv_officer").get(f"/stakeholders/{world.hcp.id}", params={"offset": 50})
    assert "sales call 55" in older.text and "sales call 0<" not in older.text
    phone = client_as("pv_officer").get(
        f"/stakeholders/{world.hcp.id}", params={"channel": "phone"}
    )
    assert "20 interaction(s)" in phone.text


def test_the_profile_shields_every_section_by_role(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    world = _world(session)
    commercial = client_as("commercial").get(
        f"/stakeholders/{world.hcp.id}", params={"department": "medical_affairs"}
    )
    assert commercial.status_code == 200
    assert "1 interaction(s)" in commercial.text
    assert "MEDNOTE" not in commercial.text and "withheld from your role" in commercial.text
    assert "AENARRATIVE" not in commercial.text
    assert "/safety/cases/" not in commercial.text
    medical = client_as("medical").get(
        f"/stakeholders/{world.hcp.id}", params={"department": "medical_affairs"}
    )
    assert "MEDNOTE" in medical.text and "/safety/cases/" not in medical.text
    # A patient: by identity for patient services; unknown to a commercial role.
    assert client_as("commercial").get(f"/stakeholders/{world.patient.id}").status_code == 404
    assert client_as("patient_services").get(f"/stakeholders/{world.patient.id}").is_success
    assert client_as("viewer").get(f"/stakeholders/{world.hcp.id}").status_code == 403


def test_a_merged_id_leads_to_the_golden_profile_and_bad_filters_are_named(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    world = _world(session)
    client = client_as("cx_lead")
    moved = client.get(f"/stakeholders/{world.merged.id}", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/stakeholders/{world.hcp.id}"
    bad = client.get(f"/stakeholders/{world.hcp.id}", params={"from": "yesterday"})
    assert bad.status_code == 400
    assert "expected a date as YYYY-MM-DD" in bad.text
    assert client.get("/stakeholders/999999").status_code == 404


def test_names_on_the_case_and_feedback_pages_lead_to_the_profile(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    world = _world(session)
    case_id = session.scalar(select(Case.id).where(Case.stakeholder_id == world.hcp.id))
    client = client_as("cx_lead")
    assert f'href="/stakeholders/{world.hcp.id}"' in client.get(f"/cases/{case_id}").text
    assert f'href="/stakeholders/{world.hcp.id}"' in client.get("/feedback").text
    safety_case_id = session.scalar(
        select(SafetyCase.id).where(SafetyCase.reporter_stakeholder_id == world.hcp.id)
    )
    reporter = client_as("pv_officer").get(f"/safety/cases/{safety_case_id}")
    assert f'href="/stakeholders/{world.hcp.id}"' in reporter.text


def test_odd_search_texts_get_an_answer_not_a_crash(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    _world(session)
    client = client_as("cx_lead")
    for q in ("²", "１２３", "9" * 30, "%", "_", "  ", "O'Brien"):
        answer = client.get("/api/v1/stakeholders/search", params={"q": q})
        assert answer.status_code == 200, (q, answer.text)
    assert client.get("/api/v1/stakeholders/search", params={"q": "%"}).json()["total"] == 0
    assert client.get("/api/v1/stakeholders/search").status_code == 422
