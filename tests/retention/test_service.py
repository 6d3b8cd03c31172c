"""Retention: periods per category, a dry run that changes nothing, a run that does what it said."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.analytics.summaries import summary_drift
from cpxm.db import make_engine
from cpxm.errors import DomainError
from cpxm.feedback.models import FeedbackItem
from cpxm.interactions.models import Interaction
from cpxm.retention.service import (
    CATEGORIES,
    EXPIRED_TEXT,
    apply_retention,
    retention_policy,
    set_retention,
)
from cpxm.surveys.models import Answer, Response
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

NOW = datetime(2026, 12, 1, 12, 0)
OLD = datetime(2024, 1, 10, 9, 0)
RECENT = datetime(2026, 11, 20, 9, 0)


def _store(session: Session) -> None:
    make_taxonomy(session)
    person = make_stakeholder(session, type="patient")
    for moment in (OLD, RECENT):
        make_interaction(session, stakeholder=person, occurred_at=moment, notes=f"note {moment}")
        make_feedback(session, f"comment {moment}", stakeholder_id=person.id, received_at=moment)
    survey = make_survey(session)
    nps = make_question(session, survey=survey)
    words = make_question(session, survey=survey, question_type="text", position=2)
    for moment in (OLD, RECENT):
        make_response(
            session,
            survey=survey,
            stakeholder=person,
            started_at=moment,
            answers={nps: 8, words: "ok"},
        )


def _state(session: Session) -> tuple[int, int, int, int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(Interaction)) or 0,
        session.scalar(select(func.count()).where(Interaction.notes.is_not(None))) or 0,
        session.scalar(select(func.count()).where(FeedbackItem.text == EXPIRED_TEXT)) or 0,
        session.scalar(select(func.count()).where(Response.stakeholder_id.is_(None))) or 0,
        session.scalar(select(func.count()).where(Answer.value_text.is_not(None))) or 0,
    )


def test_nothing_expires_until_an_admin_sets_a_period(session: Session) -> None:
    _store(session)
    assert set(retention_policy(session).values()) == {None}
    report = apply_retention(session, dry_run=False, now=NOW)
    assert (report.results, report.total) == ([], 0)


def test_a_dry_run_counts_what_the_run_then_does(session: Session) -> None:
    _store(session)
    for category in ("free_text", "survey_responses", "interactions"):
        set_retention(session, category=category, days=365, actor_user_id=None)
    before = _state(session)

    dry = apply_retention(session, dry_run=True, now=NOW)
    assert _state(session) == before  # a dry run changes nothing
    done = apply_retention(session, dry_run=False, now=NOW)

    assert [r.rows for r in done.results] == [r.rows for r in dry.results]
    assert done.total > 0
    interactions, notes, expired, unlinked, worded = _state(session)
    assert (interactions, notes) == (1, 1)  # the recent one stays, with its note
    assert expired == 1 and unlinked == 1 and worded == 1
    assert session.scalar(select(func.count()).select_from(Answer)) == 4  # scores still count
    drift = summary_drift(session)
    assert (drift.interactions, drift.summarised, drift.drifted_groups) == (1, 1, 0)
    (logged,) = session.scalars(
        select(AuditLogEntry).where(AuditLogEntry.action == "retention_run")
    ).all()
    assert logged.details is not None and logged.details["interactions"]["interactions"] == 1


def test_periods_are_checked_and_changes_audited(session: Session) -> None:
    with pytest.raises(DomainError, match="unknown data category"):
        set_retention(session, category="emails", days=30, actor_user_id=None)
    with pytest.raises(DomainError, match="at least 3650 days"):
        set_retention(session, category="safety_cases", days=365, actor_user_id=None)
    set_retention(session, category="audit_log", days=730, actor_user_id=None)
    set_retention(session, category="audit_log", days=None, actor_user_id=None)
    changes = session.scalars(
        select(AuditLogEntry.details).where(AuditLogEntry.action == "retention_set")
    ).all()
    assert changes == [{"old": None, "new": 730}, {"old": 730, "new": None}]


def test_admins_alone_set_and_run_it_through_the_api(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    _store(session)
    assert client_as("cx_lead").get("/api/v1/retention").status_code == 403
    admin = client_as("admin")
    assert {row["category"] for row in admin.get("/api/v1/retention").json()} == set(CATEGORIES)
    refused = admin.put("/api/v1/retention/safety_cases", json={"days": 30})
    assert refused.status_code == 400, refused.text
    assert admin.put("/api/v1/retention/interactions", json={"days": 365}).status_code == 200
    dry = admin.post("/api/v1/retention/run")
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert dry.json()["total"] >= 1  # the 2024 interaction is past a year today


def test_the_cli_on_a_fresh_store(tmp_path: Path) -> None:
    environment = {**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{tmp_path / 'cpxm.db'}"}

    def cpxm(*arguments: str) -> subprocess.CompletedProcess[str]:
        return cpxm_command(*arguments, environment=environment, cwd=tmp_path)

    assert cpxm("init").returncode == 0
    nothing = cpxm("retention", "run", "--dry-run")
    assert nothing.returncode == 0 and "no retention period is set" in nothing.stdout
    assert cpxm("retention", "set", "free_text", "soon").returncode == 1
    anonymous = cpxm("retention", "set", "free_text", "730")
    assert anonymous.returncode == 1 and "CPXM_TOKEN" in anonymous.stderr
    assert cpxm("user", "add", "dpo@x.example", "--role", "admin", "--no-password").returncode == 0
    environment["CPXM_TOKEN"] = cpxm("token", "create", "--user", "dpo@x.example").stdout.strip()
    assert cpxm("retention", "set", "free_text", "730").returncode == 0
    shown = cpxm("retention", "show")
    assert "730 days" in shown.stdout and "until decided" in shown.stdout
    run = cpxm("retention", "run", "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "0 row(s) would change (dry run)" in run.stdout
    done = cpxm("retention", "run")
    assert done.returncode == 0, done.stderr
    engine = make_engine(environment["CPXM_DATABASE_URL"])
    with Session(engine) as session:
        actors = session.execute(
            select(AuditLogEntry.action, User.email)
            .join(User, User.id == AuditLogEntry.user_id)
            .where(AuditLogEntry.action.in_(("retention_set", "retention_run")))
        ).all()
    engine.dispose()
    assert sorted(actions for actions, _ in actors) == ["retention_run", "retention_set"]
    assert {email for _, email in actors} == {"dpo@x.example"}
