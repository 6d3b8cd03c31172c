"""schemathesis against the real server: ``cpxm serve`` in its own process, with its job worker
running beside the requests, signed in as every role the authorisation matrix knows.

The in-process run (test_schemathesis.py) shares one transaction with the app and has no worker;
a real server adds what users meet: SQLite's one writer shared by requests and the embedded
worker, PostgreSQL with ``cpxm worker`` processes on Redis, commits that must end before the
answer. Passing means no generated request answered 5xx. Examples per operation and role:
``CPXM_SCHEMATHESIS_SERVED_EXAMPLES`` (default 2).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from sqlalchemy import Engine

from cpxm.access.roles import ROLES
from tests.access.test_schemathesis import seed_store
from tests.conftest import url_of
from tests.served import Served, served

EXAMPLES = int(os.environ.get("CPXM_SCHEMATHESIS_SERVED_EXAMPLES", "2"))
# A Redis database of its own, so no other test's worker takes these jobs.
REDIS_URL = os.environ.get("CPXM_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def _redis_reachable(url: str) -> bool:
    host_port = url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def server(store_engine: Engine, tmp_path: Path) -> Iterator[Served]:
    seed_store(store_engine)
    if store_engine.dialect.name == "sqlite":
        # The embedded default: the queue is a SQLite file and `cpxm serve` runs the worker.
        with served(url_of(store_engine), tmp_path) as running:
            yield running
        return
    if not _redis_reachable(REDIS_URL):
        pytest.skip(f"Redis not reachable at {REDIS_URL}; set CPXM_TEST_REDIS_URL to run this")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with served(url_of(store_engine), tmp_path, jobs_url=REDIS_URL, worker=True) as running:
        yield running


def test_no_generated_request_answers_a_server_error(server: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"invalid operation in /openapi.json: {result}"
        operations.append(result.ok())
    assert len(operations) > 20  # the walk reached the API, not an empty schema
    failures: list[str] = []
    requests = 0
    for role in ROLES:
        server.user(role)
        headers = {"Authorization": f"Bearer {server.tokens[role]}"}
        for operation in operations:
            # File uploads need real files: tests/api/test_imports.py covers them.
            if operation.path == "/api/v1/imports" and operation.method.upper() == "POST":
                continue
            failure, sent = _first_failure(operation, server.url, headers)
            requests += sent
            if failure:
                failures.append(f"{role} {operation.method.upper()} {operation.path}: {failure}")
    assert requests > len(operations) * len(ROLES) // 2
    assert not failures, "\n\n".join(item[:800] for item in failures) + server.log_text()[-4000:]


def _first_failure(
    operation: Any, base_url: str, headers: dict[str, str]
) -> tuple[str | None, int]:
    """Up to EXAMPLES requests for one operation: the first failing check, and how many went."""
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        nonlocal sent
        case = data.draw(operation.as_strategy())
        sent += 1
        case.call_and_validate(
            base_url=base_url, headers=headers, checks=[not_a_server_error], timeout=60
        )

    try:
        check()
    except Exception as error:  # any failure is reported with its operation
        return str(error), sent
    return None, sent
