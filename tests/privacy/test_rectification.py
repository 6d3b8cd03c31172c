"""Rectification (GDPR Art. 16): a steward's correction is audited, shows its provenance and
survives later identity resolution; through the API, on both engines, and the CLI."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.auth.service import create_api_token, create_user
from cpxm.db import make_engine
from cpxm.identity import service as identity
from cpxm.identity.merges import golden_record_provenance
from cpxm.identity.models import SourceRecord
from cpxm.migrate import upgrade_database
from cpxm.stakeholders.models import Stakeholder
from cpxm.workspace.models import AuditLogEntry
from tests.factories import make_stakeholder, make_taxonomy
from tests.identity.test_service import FILLER, PEOPLE, _load
from tests.served import cpxm_command

NEW_EMAIL = "anna.schmidt@charite.example"


def _anna(session: Session) -> int:
    make_taxonomy(session)
    records = _load(session, PEOPLE + FILLER)
    identity.resolve(session)
    session.refresh(records[0])
    stakeholder_id = records[0].stakeholder_id
    assert stakeholder_id is not None
    session.commit()
    return stakeholder_id


def test_a_correction_wins_over_later_resolves_and_names_its_steward(
    session: Session, client: TestClient
) -> None:
    anna_id = _anna(session)
    anna = session.get(Stakeholder, anna_id)
    assert anna is not None and anna.email == "anna.mueller@klinik.de"  # two sources agree

    answer = client.patch(
        f"/api/v1/stakeholders/{anna_id}",
        json={"email": NEW_EMAIL, "last_name": "Schmidt", "reason": "Art. 16 request 2026-12-01"},
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["email"], body["last_name"], body["display_name"]) == (
        NEW_EMAIL,
        "Schmidt",
        "Anna Schmidt",
    )
    why = {
        row["attribute"]: row for row in golden_record_provenance(session, stakeholder_id=anna_id)
    }
    assert why["email"]["reason"].startswith("rectified by admin-")
    assert why["last_name"]["reason"] == why["email"]["reason"]
    assert why["phone"]["reason"] != why["email"]["reason"]  # not rectified: survivorship's
    entry = session.scalars(
        select(AuditLogEntry).where(
            AuditLogEntry.action == "rectify", AuditLogEntry.entity_id == str(anna_id)
        )
    ).one()
    assert entry.reason == "Art. 16 request 2026-12-01" and entry.user_id is not None
    assert entry.details is not None
    change = entry.details["changes"]["email"]
    assert change["old"].startswith("sha256:") and change["new"].startswith("sha256:")
    assert change["old"] != change["new"]
    assert NEW_EMAIL not in str(entry.details)  # the trail proves, it does not copy

    identity.resolve(session)  # a later resolve: the sources still say Müller at klinik.de
    session.commit()
    session.expire_all()
    anna = session.get(Stakeholder, anna_id)
    assert anna is not None and anna.status == "active"
    assert (anna.email, anna.last_name, anna.first_name) == (NEW_EMAIL, "Schmidt", "Anna")


def test_bad_rectifications_change_nothing_and_say_why(
    session: Session, client: TestClient, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    person = make_stakeholder(session, type="hcp", display_name="Jo Bloggs", email="jo@x.example")
    session.commit()
    path = f"/api/v1/stakeholders/{person.id}"

    refused = client_as("commercial").patch(path, json={"email": NEW_EMAIL, "reason": "x"})
    assert refused.status_code == 403
    wrong = client.patch(
        path, json={"email": "not an address", "country_code": "ZZ", "city": " ", "reason": " "}
    )
    assert wrong.status_code == 422
    detail = str(wrong.json()["detail"])
    for problem in ("is not an email address", "unknown country 'ZZ'", "city:", "reason:"):
        assert problem in detail, problem
    assert client.patch(path, json={"nickname": "Jo", "reason": "x"}).status_code == 422
    assert (
        client.patch(
            "/api/v1/stakeholders/987654", json={"city": "Lyon", "reason": "x"}
        ).status_code
        == 404
    )
    session.expire_all()
    assert session.get(Stakeholder, person.id).email == "jo@x.example"  # type: ignore[union-attr]
    assert session.scalar(select(SourceRecord.id)) is None


def test_a_record_entered_by_hand_keeps_what_the_correction_does_not_name(
    session: Session, client: TestClient
) -> None:
    make_taxonomy(session)
    person = make_stakeholder(
        session,
        type="patient",
        display_name="Lee Chan",
        first_name="Lee",
        last_name="Chan",
        email="lee@x.example",
        birth_date=date(1970, 1, 2),
    )
    session.commit()

    answer = client.patch(
        f"/api/v1/stakeholders/{person.id}",
        json={"birth_date": "1971-01-02", "reason": "wrong year in the PSP form"},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["birth_date"] == "1971-01-02"
    assert answer.json()["email"] == "lee@x.example" and answer.json()["type"] == "patient"
    assert answer.json()["display_name"] == "Lee Chan"


def test_the_cli_rectifies_as_the_token_user(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cpxm.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    with Session(engine) as session:
        make_taxonomy(session)
        person = make_stakeholder(
            session, type="hcp", display_name="Jo Bloggs", email="jo@x.example"
        )
        admin = create_user(session, email="dpo@x.example", role="admin")
        token = create_api_token(session, user=admin).token
        viewer = create_user(session, email="viewer@x.example", role="viewer")
        viewer_token = create_api_token(session, user=viewer).token
        session.commit()
        person_id, admin_id = person.id, admin.id
    environment = {**os.environ, "CPXM_DATABASE_URL": url}
    command = ("privacy", "rectify", str(person_id), "--set", "city=Lyon", "--reason", "Art. 16")

    anonymous = cpxm_command(*command, environment=environment, cwd=tmp_path)
    assert anonymous.returncode == 1 and "CPXM_TOKEN" in anonymous.stderr
    viewing = cpxm_command(
        *command, environment={**environment, "CPXM_TOKEN": viewer_token}, cwd=tmp_path
    )
    assert viewing.returncode == 1 and "may not do this" in viewing.stderr
    done = cpxm_command(*command, environment={**environment, "CPXM_TOKEN": token}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"rectified stakeholder {person_id}: city" in done.stdout
    with Session(engine) as session:
        rectified = session.get(Stakeholder, person_id)
        assert rectified is not None and (rectified.city, rectified.email) == (
            "Lyon",
            "jo@x.example",
        )
        actor = session.scalar(
            select(AuditLogEntry.user_id).where(AuditLogEntry.action == "rectify")
        )
        assert actor == admin_id
    engine.dispose()
