"""Objection (GDPR Art. 21) and consent per purpose: every use of a person's data for profiling
or surveys asks ``cpxm.access.purposes``; objecting people are left out and the send plan says
why; through the service, the API (both engines) and the CLI."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access.purposes import consented, objecting, permitted
from cpxm.analytics.coordination import CoordinationQuery, coordination_report
from cpxm.analytics.disengagement import DisengagementQuery, silent_disengagement
from cpxm.auth.service import create_api_token, create_user
from cpxm.db import make_engine
from cpxm.errors import DomainError
from cpxm.migrate import upgrade_database
from cpxm.privacy.objection import record_objection, withdraw_objection
from cpxm.stakeholders.models import Consent
from cpxm.surveys.distribution import plan_wave
from cpxm.workspace.models import AuditLogEntry
from tests.analytics.test_api_pages import _seed as _ping_pong
from tests.analytics.test_speed import _quiet_and_busy
from tests.factories import make_stakeholder, make_taxonomy
from tests.served import cpxm_command
from tests.surveys.test_distribution import NOW, _active_survey, _hcp

LONG_AGO = datetime(2025, 1, 1)


def _consent(session: Session, person_id: int, purpose: str, status: str, days_ago: int) -> None:
    session.add(
        Consent(
            stakeholder_id=person_id,
            purpose=purpose,
            channel_code=None,
            status=status,
            recorded_at=NOW - timedelta(days=days_ago),
            source="crm",
        )
    )
    session.flush()


def test_each_purpose_asks_for_its_consent_and_honours_objections(session: Session) -> None:
    make_taxonomy(session)
    ada, bo, cy = (make_stakeholder(session, type="hcp").id for _ in range(3))
    _consent(session, ada, "marketing", "granted", 30)
    _consent(session, ada, "research", "granted", 30)
    _consent(session, bo, "marketing", "granted", 30)
    _consent(session, bo, "marketing", "withdrawn", 1)  # the latest word wins
    _consent(session, cy, "research", "granted", 30)
    everyone = [ada, bo, cy]

    assert permitted(session, everyone, purpose="marketing") == {ada}
    assert permitted(session, everyone, purpose="research") == {ada, cy}
    assert permitted(session, everyone, purpose="profiling") == {ada, bo, cy}
    assert consented(session, everyone, purpose="survey") == set()

    record_objection(session, stakeholder_id=ada, reason="letter of 2026-06-01", actor_user_id=None)
    assert set(objecting(session)) == {ada}
    assert permitted(session, everyone, purpose="marketing") == set()  # absolute for marketing
    assert permitted(session, everyone, purpose="profiling") == {bo, cy}
    assert permitted(session, everyone, purpose="research") == {ada, cy}  # consent-based
    with pytest.raises(DomainError, match="already objects"):
        record_objection(session, stakeholder_id=ada, reason="again", actor_user_id=None)

    withdraw_objection(session, stakeholder_id=ada, reason="call of 2026-07-01", actor_user_id=None)
    assert objecting(session) == {}
    assert permitted(session, everyone, purpose="marketing") == {ada}
    with pytest.raises(DomainError, match="no objection"):
        withdraw_objection(session, stakeholder_id=ada, reason="again", actor_user_id=None)
    with pytest.raises(DomainError, match="say why"):
        record_objection(session, stakeholder_id=bo, reason="  ", actor_user_id=None)
    with pytest.raises(ValueError, match="unknown purpose"):
        permitted(session, everyone, purpose="gossip")


def test_objecting_people_are_held_back_from_surveys_with_the_rule(session: Session) -> None:
    survey = _active_survey(session)
    willing = _hcp(session)
    objector = _hcp(session)
    record_objection(
        session, stakeholder_id=objector.id, reason="Art. 21 email", actor_user_id=None
    )

    plan = plan_wave(session, survey=survey, wave="2026-06", channel="email", now=NOW)

    assert willing.id in {s.id for s in plan.invite}
    held = {s.id: holds for s, holds in plan.held}
    assert objector.id not in {s.id for s in plan.invite}
    (rule,) = [hold for hold in held[objector.id] if hold.rule == "objection"]
    assert rule.reason.startswith("objects to processing (GDPR Art. 21) since ")


def test_objecting_people_leave_the_profiling_list(session: Session) -> None:
    people = _quiet_and_busy(session)
    before = silent_disengagement(session, DisengagementQuery(min_baseline=10))
    assert people["quiet"] in {row.stakeholder_id for row in before.flagged}

    record_objection(
        session, stakeholder_id=people["quiet"], reason="Art. 21 letter", actor_user_id=None
    )
    after = silent_disengagement(session, DisengagementQuery(min_baseline=10))

    assert people["quiet"] not in {row.stakeholder_id for row in after.flagged}
    assert after.checked == before.checked - 1  # not even judged


def test_objecting_people_leave_the_coordination_list(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    """The "affected now" list names people in ping-pong episodes: profiling, so an objector is
    left out (also from a report computed, and cached, before the objection); the figures over
    everyone stay."""
    _ping_pong(session)
    url = "/api/v1/analytics/coordination?as_of=2025-03-25"
    commercial = client_as("commercial")
    before = commercial.get(url).json()
    assert [row["name"] for row in before["affected"]] == ["Dr Busy"]
    busy = before["affected"][0]["stakeholder_id"]

    record_objection(session, stakeholder_id=busy, reason="Art. 21 letter", actor_user_id=None)
    after = commercial.get(url).json()
    computed = coordination_report(
        session, CoordinationQuery(as_of=date(2025, 3, 25)), include_affected=True
    )

    assert after["affected"] == [] and computed.affected == []
    assert after["episodes"] == before["episodes"] == 1


def test_the_api_records_and_withdraws_an_objection(
    session: Session, client: TestClient, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    person = make_stakeholder(session, type="patient")
    session.commit()
    path = f"/api/v1/privacy/stakeholders/{person.id}"

    assert client_as("cx_lead").post(f"{path}/objection", json={"reason": "x"}).status_code == 403
    made = client.post(f"{path}/objection", json={"reason": "Art. 21 letter of 2026-12-01"})
    assert made.status_code == 201, made.text
    assert client.post(f"{path}/objection", json={"reason": "again"}).status_code == 409
    ended = client.post(f"{path}/objection/withdraw", json={"reason": "phoned 2026-12-05"})
    assert ended.status_code == 200 and ended.json()["withdrawn_at"] is not None
    listed = client.get(f"{path}/objections").json()
    assert [(o["reason"], o["withdrawal_reason"]) for o in listed] == [
        ("Art. 21 letter of 2026-12-01", "phoned 2026-12-05")
    ]
    actions = session.scalars(
        select(AuditLogEntry.action).where(
            AuditLogEntry.entity_type == "stakeholders",
            AuditLogEntry.entity_id == str(person.id),
            AuditLogEntry.action.in_(("object", "withdraw_objection")),
        )
    ).all()
    assert sorted(actions) == ["object", "withdraw_objection"]
    missing = client.post("/api/v1/privacy/stakeholders/987654/objection", json={"reason": "x"})
    assert missing.status_code == 404


def test_the_cli_records_an_objection_as_the_token_user(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cpxm.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    with Session(engine) as session:
        make_taxonomy(session)
        person_id = make_stakeholder(session, type="hcp").id
        admin = create_user(session, email="dpo@x.example", role="admin")
        token = create_api_token(session, user=admin).token
        session.commit()
    environment = {**os.environ, "CPXM_DATABASE_URL": url}
    objecting_command = ("privacy", "object", str(person_id), "--reason", "Art. 21 letter")

    anonymous = cpxm_command(*objecting_command, environment=environment, cwd=tmp_path)
    assert anonymous.returncode == 1 and "CPXM_TOKEN" in anonymous.stderr
    signed_in = {**environment, "CPXM_TOKEN": token}
    made = cpxm_command(*objecting_command, environment=signed_in, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "left out of profiling lists and survey audiences" in made.stdout
    again = cpxm_command(*objecting_command, environment=signed_in, cwd=tmp_path)
    assert again.returncode == 1 and "already objects" in again.stderr
    withdrawn = cpxm_command(*objecting_command, "--withdraw", environment=signed_in, cwd=tmp_path)
    assert withdrawn.returncode == 0 and "no longer objects" in withdrawn.stdout
    with Session(engine) as session:
        assert objecting(session) == {}
    engine.dispose()
