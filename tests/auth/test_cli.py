"""``cpxm user add`` and ``cpxm token create`` against a real store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cpxm.app import create_app
from cpxm.cli import app
from cpxm.workspace.models import User
from tests.conftest import url_of

runner = CliRunner()


def test_user_add_then_token_create_gives_a_working_bearer_token(
    store_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    monkeypatch.setenv("PV_PASSWORD", "a long enough password")
    added = runner.invoke(
        app,
        ["user", "add", "PV@Example.org", "--role", "pv_officer", "--password-env", "PV_PASSWORD"],
    )
    assert added.exit_code == 0, added.output
    assert "role pv_officer" in added.output
    created = runner.invoke(app, ["token", "create", "--user", "pv@example.org"])
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert token.startswith("cpxm_")
    with Session(store_engine) as session:
        user = session.scalars(select(User).where(User.email == "pv@example.org")).one()
        assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    with TestClient(create_app(engine=store_engine)) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert "safety" in me.json()["domains"]


def test_bad_role_and_unknown_user_fail_with_one_line(
    store_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    bad_role = runner.invoke(
        app, ["user", "add", "x@example.org", "--role", "boss", "--no-password"]
    )
    assert bad_role.exit_code == 1
    assert "unknown role 'boss'" in bad_role.output
    unknown = runner.invoke(app, ["token", "create", "--user", "ghost@example.org"])
    assert unknown.exit_code == 1
    assert "no user with email ghost@example.org" in unknown.output
