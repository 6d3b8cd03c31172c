"""`cpxm survey create|send --dry-run|export` against a committed store, on both engines."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cpxm.auth.service import create_api_token, create_user
from cpxm.cli import app
from cpxm.stakeholders.models import Consent
from cpxm.surveys.models import Invitation, Survey
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry
from tests.conftest import url_of
from tests.factories import make_stakeholder, make_taxonomy
from tests.surveys.helpers import EXAMPLE, FULL_ANSWERS, example_document

runner = CliRunner()


def test_create_send_dry_run_and_export(
    store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    with Session(store_engine) as session:
        make_taxonomy(session)
        consenting = make_stakeholder(
            session, type="hcp", country_code="DE", therapeutic_areas=("oncology",),
            email="a@example.org", display_name="Anna Consenting",
        )  # fmt: skip
        make_stakeholder(
            session, type="hcp", country_code="FR", therapeutic_areas=("oncology",),
            email="b@example.org", display_name="Bruno Silent",
        )  # fmt: skip
        session.add(
            Consent(
                stakeholder_id=consenting.id, purpose="survey", channel_code=None,
                status="granted", recorded_at=utc_now() - timedelta(days=3), source="crm",
            )
        )  # fmt: skip
        session.commit()

    created = runner.invoke(app, ["survey", "create", str(EXAMPLE)])
    assert created.exit_code == 0, created.output
    assert "created at version 1" in created.output
    changed = example_document()
    changed["name"] = "Renamed"
    changed_file = tmp_path / "changed.json"
    changed_file.write_text(json.dumps(changed))
    assert (
        "published version 2" in runner.invoke(app, ["survey", "create", str(changed_file)]).output
    )

    anonymous = runner.invoke(app, ["survey", "send", "hcp_pulse", "--dry-run", "--wave", "w1"])
    assert anonymous.exit_code == 1 and "CPXM_TOKEN" in anonymous.output
    with Session(store_engine) as session:
        lead = create_user(session, email="lead@example.org", role="cx_lead")
        viewer = create_user(session, email="viewer@example.org", role="viewer")
        lead_token = create_api_token(session, user=lead).token
        viewer_token = create_api_token(session, user=viewer).token
        lead_id = lead.id
        session.commit()
    monkeypatch.setenv("CPXM_TOKEN", viewer_token)
    refused = runner.invoke(app, ["survey", "send", "hcp_pulse", "--dry-run", "--wave", "w1"])
    assert refused.exit_code == 1 and "may not do this" in refused.output
    assert "viewer" in runner.invoke(app, ["survey", "export", "hcp_pulse"]).output
    monkeypatch.setenv("CPXM_TOKEN", lead_token)
    dry = runner.invoke(app, ["survey", "send", "hcp_pulse", "--dry-run", "--wave", "w1"])
    assert dry.exit_code == 0, dry.output
    assert "1 to invite, 1 held back" in dry.output
    assert "Bruno Silent" in dry.output and "survey_consent" in dry.output
    assert "dry run: nothing was sent" in dry.output
    with Session(store_engine) as session:
        assert session.scalar(select(func.count(Invitation.id))) == 0

    broken = tmp_path / "broken.yaml"
    broken.write_text("code: x\npages: []\n")
    refused = runner.invoke(app, ["survey", "create", str(broken)])
    assert refused.exit_code == 1 and "pages" in refused.output

    with Session(store_engine) as session:
        survey = session.scalars(select(Survey)).one()
        from tests.surveys.helpers import make_open_link

        token = make_open_link(session, survey).token
        session.commit()
    from fastapi.testclient import TestClient

    from cpxm.app import create_app

    with TestClient(create_app(engine=store_engine)) as client:
        assert client.post(f"/s/{token}", json={"answers": FULL_ANSWERS}).status_code == 201
    exported = runner.invoke(app, ["survey", "export", "hcp_pulse", "--format", "json"])
    assert exported.exit_code == 0, exported.output
    rows = json.loads(exported.output)
    assert rows[0]["nps"] == 4 and rows[0]["survey_version"] == 2
    with Session(store_engine) as session:
        read = session.scalars(
            select(AuditLogEntry).where(
                AuditLogEntry.action == "read", AuditLogEntry.user_id == lead_id
            )
        ).first()
    assert read is not None and read.details is not None
    assert read.details["via"] == "cpxm survey export"
    assert read.details["ids"] == [rows[0]["response_id"]]
    out = tmp_path / "responses.parquet"
    parquet = runner.invoke(
        app, ["survey", "export", "hcp_pulse", "--format", "parquet", "--out", str(out)]
    )
    assert parquet.exit_code == 0 and out.stat().st_size > 0
    bad = runner.invoke(app, ["survey", "export", "hcp_pulse", "--format", "xlsx"])
    assert bad.exit_code == 1 and "expected one of csv, json, parquet" in bad.output
