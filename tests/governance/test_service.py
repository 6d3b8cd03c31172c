"""The RACI matrix: loading YAML (all or nothing), resolving the most specific scope, the CLI,
the API and the page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cpxm.auth.service import create_api_token, create_user
from cpxm.cli import app
from cpxm.governance import service
from cpxm.governance.models import RaciAssignment
from tests.auth.signing import PASSWORD, signature, signing_headers, signing_user
from tests.conftest import url_of
from tests.factories import make_taxonomy

MATRIX = """
teams:
  - {name: Patient services DE, department: patient_services, country: DE}
  - name: Medical affairs DE oncology
    department: medical_affairs
    country: DE
    therapeutic_area: oncology
  - {name: Sales, department: sales}
raci:
  - activity: detractor_followup
    responsible: team:Sales
    accountable: user:lead@example.org
    informed: [user:lead@example.org]
  - activity: detractor_followup
    scope: {country: DE, stakeholder_type: patient}
    responsible: [team:Patient services DE]
    accountable: [user:lead@example.org]
    consulted: [team:Sales]
  - activity: medical_inquiry
    scope: {country: DE, therapeutic_area: oncology}
    responsible: [team:Medical affairs DE oncology]
    accountable: [user:medlead@example.org]
"""


@pytest.fixture
def people(session: Session) -> None:
    make_taxonomy(session)
    create_user(session, email="lead@example.org", role="cx_lead")
    create_user(session, email="medlead@example.org", role="medical")


def test_the_most_specific_scope_wins_per_letter(session: Session, people: None) -> None:
    report = service.load_matrix(session, text=MATRIX)
    assert (report.assignments, report.teams_created) == (8, 3)
    patient_de = service.resolve(
        session, activity="detractor_followup", country="DE", stakeholder_type="patient"
    )
    assert [p.label for p in patient_de.responsible] == ["team:Patient services DE"]
    assert [p.label for p in patient_de.consulted] == ["team:Sales"]
    # Informed is only set everywhere-scope: the most specific row that names an I applies.
    assert [p.label for p in patient_de.informed] == ["user:lead@example.org"]
    hcp_fr = service.resolve(
        session, activity="detractor_followup", country="FR", stakeholder_type="hcp"
    )
    assert [p.label for p in hcp_fr.responsible] == ["team:Sales"]
    nothing = service.resolve(session, activity="medical_inquiry", country="FR")
    assert nothing.responsible == []


def test_a_bad_file_changes_nothing_and_names_every_problem(session: Session, people: None) -> None:
    service.load_matrix(session, text=MATRIX)
    before = session.scalar(select(func.count()).select_from(RaciAssignment))
    bad = """
raci:
  - activity: detractor_follow_up
    responsible: team:Sales
  - activity: complaint
    scope: {country: XX}
    responsible: [user:ghost@example.org]
    informed: [sales]
  - activity: complaint
"""
    with pytest.raises(service.GovernanceError) as raised:
        service.load_matrix(session, text=bad)
    problems = "\n".join(raised.value.problems)
    assert "raci[0].activity: 'detractor_follow_up' is not one of" in problems
    assert "raci[1]: unknown country code 'XX'" in problems
    assert "raci[1].responsible[0]: no user 'ghost@example.org'" in problems
    assert "raci[1].informed[0]: 'sales' should read 'team:NAME' or 'user:EMAIL'" in problems
    assert "raci[2].responsible: every activity needs someone Responsible" in problems
    assert session.scalar(select(func.count()).select_from(RaciAssignment)) == before


def test_dump_reads_back_to_the_same_matrix(session: Session, people: None) -> None:
    service.load_matrix(session, text=MATRIX)
    first = service.matrix(session)
    service.load_matrix(session, text=service.dump_matrix(session))
    assert service.matrix(session) == first


def test_cli_loads_a_file(
    store_engine: Engine, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    with Session(store_engine) as session:
        make_taxonomy(session)
        lead = signing_user(session, "cx_lead", email="lead@example.org")
        create_user(session, email="medlead@example.org", role="medical")
        token = create_api_token(session, user=lead).token
        session.commit()
    path = Path(str(tmp_path)) / "raci.yaml"
    path.write_text(MATRIX)
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    signed = ["--meaning", "approved", "--reason", "new DE routing", "--password-stdin"]
    unsigned = CliRunner().invoke(app, ["governance", "load", str(path), *signed], input=PASSWORD)
    assert unsigned.exit_code == 1 and "CPXM_TOKEN" in unsigned.output
    monkeypatch.setenv("CPXM_TOKEN", token)
    load = ["governance", "load", str(path), *signed]
    result = CliRunner().invoke(app, load, input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "loaded 8 assignment(s) for 2 activit(ies)" in result.output
    assert "signed by lead@example.org" in result.output
    path.write_text("raci: [{activity: nope, responsible: team:Sales}]")
    failed = CliRunner().invoke(app, load, input=PASSWORD)
    assert failed.exit_code == 1
    assert "raci[0].activity" in failed.output
    shown = CliRunner().invoke(app, ["governance", "show"])
    assert "team:Patient services DE" in shown.output


def test_only_cx_management_may_replace_the_matrix(
    client_as: Callable[[str], TestClient],
    app: FastAPI,
    session_maker: sessionmaker[Session],
    session: Session,
    people: None,
) -> None:
    session.commit()
    signed = signature(meaning="approved", reason="DE routing", yaml=MATRIX)
    refused = client_as("commercial").put("/api/v1/governance/raci", json=signed)
    assert refused.status_code == 403
    lead = TestClient(app, headers=signing_headers(session_maker, "cx_lead")[0])
    loaded = lead.put("/api/v1/governance/raci", json=signed)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["assignments"] == 8
    viewer = client_as("viewer")
    matrix = viewer.get("/api/v1/governance/raci").json()
    assert len(matrix["rows"]) == 3
    who = viewer.get(
        "/api/v1/governance/resolve",
        params={"activity": "medical_inquiry", "country": "DE", "therapeutic_area": "oncology"},
    ).json()
    assert who["responsible"] == ["team:Medical affairs DE oncology"]
    page = viewer.get("/governance")
    assert page.status_code == 200
    assert "Medical affairs DE oncology" in page.text
    assert "<textarea" not in page.text  # viewers read; they do not edit
    assert "<textarea" in lead.get("/governance").text
