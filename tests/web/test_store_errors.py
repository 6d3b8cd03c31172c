"""A page view that must write after all (a token's last use, an audited read) on SQLite, when
another writer committed after it began reading: SQLite refuses the write at once, and the app
runs the request again as a writer instead of answering 500."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.app import create_app
from cpxm.auth.models import ApiToken
from cpxm.db import SQLITE_BEGIN_OPTION
from tests.conftest import bearer_headers


def test_a_reader_refused_its_write_is_run_again_as_a_writer(store_engine: Engine) -> None:
    if store_engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL lets a reading transaction write; only SQLite refuses")
    headers = bearer_headers(sessionmaker(bind=store_engine), "admin")
    database = store_engine.url.database
    assert database
    interfered: list[str] = []
    token_lookups: list[str] = []

    def commit_elsewhere_first(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The first write of a deferred (reading) transaction: let another process's writer
        # commit just before it, as a busy store would.
        if statement.startswith("SELECT") and "FROM api_tokens" in statement:
            token_lookups.append(statement)
        deferred = connection.get_execution_options().get(SQLITE_BEGIN_OPTION) == "DEFERRED"
        writes = statement.lstrip().upper().startswith(("INSERT", "UPDATE"))
        if deferred and writes and not interfered:
            interfered.append(" ".join(statement.split()[:3]))
            other = sqlite3.connect(database, timeout=10)
            other.execute("UPDATE teams SET name = name")
            other.execute("INSERT INTO departments (code, name) VALUES ('elsewhere', 'Elsewhere')")
            other.commit()
            other.close()

    event.listen(store_engine, "before_cursor_execute", commit_elsewhere_first)
    try:
        with TestClient(create_app(engine=store_engine), headers=headers) as client:
            answer = client.get("/api/v1/me")
    finally:
        event.remove(store_engine, "before_cursor_execute", commit_elsewhere_first)
    assert interfered, "the request never wrote from a reading transaction"
    assert answer.status_code == 200, answer.text
    assert interfered == ["UPDATE api_tokens SET"]  # the token's first use, noted by a view
    assert len(token_lookups) == 2  # the request ran twice: as a reader, then as a writer
    with Session(store_engine) as session:
        # The second run, as a writer, stored what the first was refused.
        assert session.scalar(select(ApiToken.last_used_at)) is not None
