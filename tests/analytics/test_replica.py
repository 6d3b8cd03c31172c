"""Report queries read the replica when ``CPXM_ANALYTICS_DATABASE_URL`` names one: the figures
and the cache key come from it, while the request itself stays on the primary."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cpxm.analytics.query import REPLICA_VARIABLE, _replica_engine
from cpxm.app import create_app
from cpxm.db import make_engine
from cpxm.migrate import upgrade_database
from cpxm.timeutil import utc_now
from tests.conftest import bearer_headers, postgres_test_url
from tests.factories import (
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)


def _answers(engine: Engine, score: int) -> None:
    """Twelve NPS answers of ``score``: NPS 100 for 10, -100 for 0."""
    with Session(engine) as session:
        make_taxonomy(session)
        survey = make_survey(session, code="hcp_relationship")
        nps = make_question(session, survey=survey, question_type="nps", code="nps")
        for _ in range(12):
            make_response(
                session,
                survey=survey,
                stakeholder=make_stakeholder(session),
                started_at=utc_now() - timedelta(days=3),
                answers={nps: score},
            )
        session.commit()


def _nps(client: TestClient, headers: dict[str, str]) -> Any:
    answer = client.get(
        "/api/v1/analytics/metrics", params={"metric": "nps", "min_n": 10}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["overall"]["value"]


@pytest.mark.parametrize("store_engine", ["postgresql"], indirect=True)
def test_reports_read_the_replica(store_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    replica_url = postgres_test_url("replica_")
    replica = make_engine(replica_url)
    try:
        upgrade_database(replica)
        _answers(store_engine, 0)  # the primary: all detractors
        _answers(replica, 10)  # "the replica": a copy that says otherwise, to tell them apart
        maker = sessionmaker(bind=store_engine)
        headers = bearer_headers(maker)
        with TestClient(create_app(sessionmaker_=maker)) as client:
            assert _nps(client, headers) == -100.0
        monkeypatch.setenv(REPLICA_VARIABLE, replica_url)
        with TestClient(create_app(sessionmaker_=maker)) as client:
            assert _nps(client, headers) == 100.0
    finally:
        _replica_engine.cache_clear()
        replica.dispose()


def test_a_replica_of_another_kind_is_refused(
    store_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store_engine.dialect.name != "sqlite":
        pytest.skip("one mismatch is enough: an SQLite store with a PostgreSQL replica")
    monkeypatch.setenv(REPLICA_VARIABLE, postgres_test_url("replica_"))
    maker = sessionmaker(bind=store_engine)
    headers = bearer_headers(maker)
    try:
        app = create_app(sessionmaker_=maker)
        refused = pytest.raises(RuntimeError, match="the replica must be a copy of the store")
        with TestClient(app, raise_server_exceptions=True) as client, refused:
            client.get("/api/v1/analytics/metrics", params={"metric": "nps"}, headers=headers)
    finally:
        _replica_engine.cache_clear()
