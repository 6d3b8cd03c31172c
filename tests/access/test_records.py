"""Record-level rules: patients pseudonymised, whole reads audited, medical notes firewalled,
and every change audited with who and why."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import RecordView, audit, pseudonym, shield_interactions
from cpxm.access.principal import Principal
from cpxm.access.roles import Role
from cpxm.auth.service import create_user
from cpxm.interactions.schemas import interaction_out
from cpxm.workspace.models import AuditLogEntry
from tests.factories import make_interaction, make_stakeholder, make_taxonomy


def _reads(session: Session) -> list[AuditLogEntry]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditLogEntry).where(
                AuditLogEntry.action == "read", AuditLogEntry.entity_type == "stakeholders"
            )
        )
    )


def test_analysts_and_commercial_see_patients_only_under_a_pseudonym(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    patient = make_stakeholder(
        session,
        type="patient",
        display_name="Maria Keller",
        first_name="Maria",
        last_name="Keller",
        email="maria@example.org",
    )
    hcp = make_stakeholder(session, type="hcp", display_name="Dr Jonas Weber")
    session.commit()
    for role in ("analyst", "commercial"):
        client = client_as(role)
        listed = {s["display_name"]: s for s in client.get("/api/v1/stakeholders").json()["items"]}
        shown = listed[pseudonym(session, patient.id)]
        assert shown["email"] is None and shown["last_name"] is None
        # The key stands in for the id: never both on one record.
        assert shown["id"] is None and shown["key"] in shown["display_name"]
        assert listed["Dr Jonas Weber"]["id"] == hcp.id
        # Not by the real id either: the answer would tie the id to the key.
        assert client.get(f"/api/v1/stakeholders/{patient.id}").status_code == 404
        assert "Keller" not in client.get("/api/v1/stakeholders?q=Maria").text
    # Pseudonymised reads are not reads of patient-identifiable data.
    assert _reads(session) == []


def test_patient_services_see_patients_whole_and_each_read_is_audited(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    patient = make_stakeholder(session, type="patient", display_name="Maria Keller")
    make_stakeholder(session, type="hcp")
    session.commit()
    client = client_as("patient_services")
    profile = client.get(f"/api/v1/stakeholders/{patient.id}")
    assert profile.json()["display_name"] == "Maria Keller"
    client.get("/api/v1/stakeholders", params={"type": "patient"})
    reads = _reads(session)
    assert len(reads) == 2
    assert all(entry.user_id is not None for entry in reads)
    assert reads[0].entity_id == str(patient.id)
    assert reads[1].details is not None and patient.id in reads[1].details["ids"]


def test_medical_inquiry_notes_stay_behind_the_firewall(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session, type="hcp")
    inquiry = make_interaction(
        session,
        stakeholder=hcp,
        department_code="medical_affairs",
        notes="Asked about off-label dosing in renal impairment",
    )
    visit = make_interaction(session, stakeholder=hcp, notes="Left samples")
    session.commit()
    commercial = client_as("commercial")
    assert commercial.get(f"/api/v1/interactions/{inquiry.id}").json()["notes"] is None
    assert commercial.get(f"/api/v1/interactions/{visit.id}").json()["notes"] == "Left samples"
    listed = commercial.get("/api/v1/interactions").text
    assert "off-label" not in listed
    medical = client_as("medical")
    assert "off-label" in medical.get(f"/api/v1/interactions/{inquiry.id}").json()["notes"]


def test_changes_are_audited_with_who_and_why(client: TestClient, session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session, type="hcp")
    session.commit()
    created = client.post(
        "/api/v1/interactions",
        json={
            "stakeholder_id": hcp.id,
            "occurred_at": "2025-01-02T10:00:00",
            "channel": "email",
            "department": "sales",
            "interaction_type": "visit",
            "direction": "outbound",
        },
        headers={"X-Audit-Reason": "logged a missed visit"},
    )
    assert created.status_code == 201, created.text
    session.expire_all()
    entry = session.scalars(
        select(AuditLogEntry).where(
            AuditLogEntry.entity_type == "interactions", AuditLogEntry.action == "create"
        )
    ).one()
    assert entry.entity_id == str(created.json()["id"])
    assert entry.reason == "logged a missed visit"
    assert entry.user_id is not None


def test_reads_of_safety_cases_and_raw_source_rows_are_audited(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    for role, path in (
        ("pv_officer", "/api/v1/safety/cases"),
        ("admin", "/api/v1/quarantine"),
        ("admin", "/api/v1/identity/review"),
    ):
        assert client_as(role).get(path).status_code == 200, path
        session.expire_all()
        logged = session.scalars(
            select(AuditLogEntry).where(
                AuditLogEntry.action == "read", AuditLogEntry.entity_type == "route"
            )
        ).all()
        assert any(
            entry.details and entry.details.get("path") == path and entry.user_id
            for entry in logged
        ), path


def test_an_update_is_audited_with_old_and_new_values(session: Session) -> None:
    lead = create_user(session, email="lead@example.org", role="cx_lead")
    hcp = make_stakeholder(session, type="hcp", email="old@example.org", specialty="oncology")
    session.flush()
    audit.bind_principal(
        session,
        Principal(lead.id, lead.email, "Lead", Role.CX_LEAD, method="token"),
        reason="corrected on the HCP's request",
    )
    hcp.specialty = "haematology"
    hcp.email = "new@example.org"
    session.flush()

    (entry,) = session.scalars(
        select(AuditLogEntry).where(
            AuditLogEntry.entity_type == "stakeholders",
            AuditLogEntry.entity_id == str(hcp.id),
            AuditLogEntry.action == "update",
        )
    ).all()
    assert entry.user_id == lead.id and entry.reason == "corrected on the HCP's request"
    assert entry.details is not None
    changes = entry.details["changes"]
    assert changes["specialty"] == {"old": "oncology", "new": "haematology"}
    # Personal data is proven changed by fingerprints, never copied into the log.
    assert changes["email"]["old"].startswith("sha256:")
    assert changes["email"]["old"] != changes["email"]["new"]
    assert "example.org" not in str(entry.details)


def test_a_shared_view_shields_as_a_new_one_and_only_for_its_principal(
    session: Session,
) -> None:
    make_taxonomy(session)
    patient = make_stakeholder(session, type="patient")
    interaction = make_interaction(session, stakeholder=patient)
    analyst = Principal(1, "a@example.com", "Analyst", Role.ANALYST, method="token")
    lead = Principal(2, "l@example.com", "Lead", Role.CX_LEAD, method="token")
    records = [interaction_out(interaction)]
    view = RecordView(session, analyst)

    assert shield_interactions(session, analyst, records, view=view) == shield_interactions(
        session, analyst, records
    )
    with pytest.raises(ValueError, match="its own principal"):
        shield_interactions(session, lead, records, view=view)
