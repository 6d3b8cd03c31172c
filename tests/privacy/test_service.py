"""Export and erasure of one data subject, through the service, the API and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.cases.service import open_case
from cpxm.db import make_engine
from cpxm.errors import DomainError
from cpxm.feedback.models import FeedbackItem
from cpxm.identity.models import SourceRecord
from cpxm.interactions.models import Interaction
from cpxm.migrate import upgrade_database
from cpxm.privacy.erasure import RULES, erase_person
from cpxm.privacy.export import export_person
from cpxm.privacy.records import stakeholder_references
from cpxm.safety.models import SafetyCase
from cpxm.safety.screening import screen_items
from cpxm.stakeholders.models import Consent, Stakeholder
from cpxm.surveys.models import Answer, Invitation
from cpxm.workspace.models import AuditLogEntry, User
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)
from tests.safety.helpers import make_feedback
from tests.served import cpxm_command

SECRET = "ana.lopez@example.org"
NOTE = "Ana Lopez called about her Glyventa refill"


@dataclass
class Person:
    golden: Stakeholder
    merged: Stakeholder
    safety_case: SafetyCase
    invitation: Invitation


def _person(session: Session) -> Person:
    make_taxonomy(session)
    golden = make_stakeholder(
        session,
        type="patient",
        display_name="Ana Lopez",
        first_name="Ana",
        last_name="Lopez",
        email=SECRET,
        phone="+34 600 111 222",
        birth_date=date(1980, 5, 17),
        channel_preferences=("email",),
    )
    merged = make_stakeholder(
        session,
        type="patient",
        display_name="A. Lopez",
        email=SECRET,
        status="merged",
        merged_into_id=golden.id,
    )
    session.add(
        SourceRecord(
            source_system="psp",
            source_id="PSP-0042",
            stakeholder_id=merged.id,
            attributes={"email": SECRET, "first_name": "Ana"},
        )
    )
    session.add(
        Consent(
            stakeholder_id=golden.id,
            purpose="survey",
            channel_code="email",
            status="granted",
            recorded_at=date(2026, 1, 1),
            source="psp",
        )
    )
    make_interaction(session, stakeholder=golden, notes=NOTE)
    survey = make_survey(session)
    nps = make_question(session, survey=survey)
    comment = make_question(session, survey=survey, question_type="text", position=2)
    response = make_response(
        session, survey=survey, stakeholder=golden, answers={nps: 3, comment: NOTE}
    )
    invitation = Invitation(
        survey_id=survey.id,
        stakeholder_id=golden.id,
        token="secret-link-token",
        channel_code="email",
        status="sent",
        expires_at=datetime(2027, 1, 1),
    )
    session.add(invitation)
    adverse = make_feedback(
        session,
        "Since starting Glyventa I have an awful rash. Ana Lopez, " + SECRET,
        stakeholder_id=golden.id,
        response_id=response.id,
    )
    (_, cases) = screen_items(session, items=[adverse])
    assert cases, "the fixture's adverse event opened no safety case"
    open_case(
        session,
        case_type="complaint",
        title="Refill late",
        description=NOTE,
        stakeholder_id=golden.id,
    )
    session.flush()
    return Person(golden, merged, cases[0], invitation)


def test_every_table_that_points_at_a_person_has_an_erasure_rule() -> None:
    references = {(table.name, column.name) for table, column in stakeholder_references()}
    assert len(references) >= 15  # the walk found the schema, not nothing
    assert references - set(RULES) == set(), "a new table points at stakeholders: add a rule"
    assert set(RULES) - references == set(), "a rule names a column that no longer exists"


def test_the_export_holds_everything_but_secrets(session: Session) -> None:
    person = _person(session)
    document = export_person(session, stakeholder_id=person.golden.id, actor_user_id=None)

    text = json.dumps(document)
    assert document["golden_record"]["email"] == SECRET
    assert [row["id"] for row in document["merged_records"]] == [person.merged.id]
    held = document["held"]
    for table in ("consents", "interactions", "responses", "answers", "feedback_items", "cases"):
        assert held.get(table), table
    assert held["source_records"][0]["source_id"] == "PSP-0042"
    assert NOTE in text
    assert "secret-link-token" not in text  # a survey link would let the reader answer as them
    (listed,) = held["safety_cases"]
    assert set(listed) == {"id", "kind", "status", "created_at", "aware_at"}
    (read,) = session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "read")).all()
    assert read.details is not None and read.details["via"] == "privacy_export"
    assert read.details["ids"] == [person.golden.id, person.merged.id]


def test_erasure_forgets_the_person_but_keeps_safety_and_figures(session: Session) -> None:
    person = _person(session)
    interactions_before = session.scalar(select(func.count()).select_from(Interaction))

    erasure = erase_person(
        session, stakeholder_id=person.golden.id, reason="Art. 17 request", actor_user_id=None
    )
    session.expire_all()

    document = json.dumps(
        export_person(session, stakeholder_id=person.golden.id, actor_user_id=None)
    )
    for trace in (SECRET, "Lopez", "PSP-0042", "600 111 222", "1980-05-17", NOTE):
        assert trace not in document, trace
    golden = session.get(Stakeholder, person.golden.id)
    assert golden is not None and golden.display_name == "Erased person"
    assert golden.type == "patient"  # aggregates by type still count them
    assert session.scalar(select(func.count()).select_from(Interaction)) == interactions_before
    assert session.scalar(select(func.count()).where(Consent.stakeholder_id == golden.id)) == 0
    assert session.scalar(select(Answer.value_number).where(Answer.value_number == 3)) == 3
    invitation = session.get(Invitation, person.invitation.id)
    assert invitation is not None and invitation.token != "secret-link-token"
    feedback = session.scalars(
        select(FeedbackItem).where(FeedbackItem.stakeholder_id == golden.id)
    ).one()
    assert feedback.text == "[erased]"
    # The safety case stays whole, and knows who reported it.
    case = session.get(SafetyCase, person.safety_case.id)
    assert case is not None and SECRET in case.verbatim
    assert case.reporter_identity is not None and case.reporter_identity["email"] == SECRET
    assert erasure.summary["stakeholders"] == 2
    logged = session.scalars(
        select(AuditLogEntry).where(AuditLogEntry.action == "privacy_erase")
    ).one()
    assert logged.reason == "Art. 17 request"


def test_erasure_needs_a_reason_and_a_person(session: Session) -> None:
    person = _person(session)
    with pytest.raises(DomainError, match="say why"):
        erase_person(session, stakeholder_id=person.golden.id, reason=" ", actor_user_id=None)
    with pytest.raises(DomainError):
        erase_person(session, stakeholder_id=987654, reason="request", actor_user_id=None)


def test_admins_alone_export_and_erase_through_the_api(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    person = _person(session)
    path = f"/api/v1/privacy/stakeholders/{person.golden.id}"
    assert client_as("cx_lead").get(f"{path}/export").status_code == 403
    admin = client_as("admin")
    exported = admin.get(f"{path}/export")
    assert exported.status_code == 200
    assert exported.json()["golden_record"]["email"] == SECRET
    assert admin.post(f"{path}/erase", json={}).status_code == 422
    erased = admin.post(f"{path}/erase", json={"reason": "Art. 17 request of 2026-12-01"})
    assert erased.status_code == 201, erased.text
    assert erased.json()["summary"]["stakeholders"] == 2
    assert SECRET not in admin.get(f"{path}/export").text
    assert admin.get("/api/v1/privacy/stakeholders/987654/export").status_code == 404


def test_the_cli_exports_and_erases_on_a_fresh_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cpxm.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    with Session(engine) as session:
        person = _person(session)
        golden_id = person.golden.id
        session.commit()
    engine.dispose()
    environment = {**os.environ, "CPXM_DATABASE_URL": url}

    def cpxm(*arguments: str) -> subprocess.CompletedProcess[str]:
        return cpxm_command(*arguments, environment=environment, cwd=tmp_path)

    anonymous = cpxm("privacy", "export", str(golden_id), "person.json")
    assert anonymous.returncode == 1 and "CPXM_TOKEN" in anonymous.stderr
    assert not (tmp_path / "person.json").exists()
    assert cpxm("user", "add", "dpo@x.example", "--role", "admin", "--no-password").returncode == 0
    environment["CPXM_TOKEN"] = cpxm("token", "create", "--user", "dpo@x.example").stdout.strip()
    exported = cpxm("privacy", "export", str(golden_id), "person.json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads((tmp_path / "person.json").read_text())["golden_record"]["email"] == SECRET
    refused = cpxm("privacy", "erase", str(golden_id), "--reason", " ", "--yes")
    assert refused.returncode == 1 and "say why" in refused.stderr + refused.stdout
    erased = cpxm("privacy", "erase", str(golden_id), "--reason", "Art. 17 request", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "erased stakeholder" in erased.stdout
    again = cpxm("privacy", "export", str(golden_id), "after.json")
    assert again.returncode == 0, again.stderr
    assert SECRET not in (tmp_path / "after.json").read_text()
    engine = make_engine(url)
    with Session(engine) as session:
        actions = session.scalars(
            select(AuditLogEntry.action)
            .join(User, User.id == AuditLogEntry.user_id)
            .where(User.email == "dpo@x.example", AuditLogEntry.entity_id == str(golden_id))
        ).all()
    engine.dispose()
    assert {"read", "privacy_erase"} <= set(actions)  # the exports and the erasure are theirs


def test_erasure_takes_the_persons_risk_scores_and_proposed_actions(session: Session) -> None:
    from cpxm.predict.models import OutreachAction, PredictionModel, PredictionScore

    make_taxonomy(session)
    person = make_stakeholder(session, display_name="Dr Profiled")
    other = make_stakeholder(session, display_name="Dr Kept")
    moment = datetime(2025, 6, 1)
    model = PredictionModel(
        version=1, created_at=moment, trained_through=moment, test_cutoff=moment,
        examples=10, parameters={}, metrics={}, seconds=0.1,
    )  # fmt: skip
    session.add(model)
    session.flush()
    for rank, who in enumerate((person, other), start=1):
        score = PredictionScore(
            model_id=model.id, stakeholder_id=who.id, as_of=moment, scored_at=moment,
            risk=0.4, rank=rank, reasons={"reasons": []},
        )  # fmt: skip
        session.add(score)
        session.flush()
        session.add(
            OutreachAction(
                score_id=score.id,
                stakeholder_id=who.id,
                topic="oncology",
                not_before=moment,
                why="late answers",
                status="proposed",
                proposed_at=moment,
            )
        )
    session.flush()
    erasure = erase_person(session, stakeholder_id=person.id, reason="Art. 17", actor_user_id=None)
    assert erasure.summary["prediction_scores"] == 1
    left = session.scalars(select(PredictionScore.stakeholder_id)).all()
    assert left == [other.id]
    assert session.scalars(select(OutreachAction.stakeholder_id)).all() == [other.id]
