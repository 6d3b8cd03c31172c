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

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine

from cpxm.access.roles import ROLES
from tests.access.test_schemathesis import api_operations, first_failure, seed_store
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
    # Fetched here with a patient timeout: a loaded machine took over schemathesis's 10 s.
    spec = httpx.get(f"{server.url}/openapi.json", timeout=120).json()
    operations = api_operations(schemathesis.openapi.from_dict(spec))
    failures: list[str] = []
    requests = 0
    for role in ROLES:
        server.user(role)
        for operation in operations:
            failure, sent = first_failure(
                operation,
                examples=EXAMPLES,
                checks=[not_a_server_error],
                base_url=server.url,
                headers={"Authorization": f"Bearer {server.tokens[role]}"},
                timeout=60,
            )
            requests += sent
            if failure:
                failures.append(f"{role} {operation.method.upper()} {operation.path}: {failure}")
    assert requests > len(operations) * len(ROLES) // 2
    assert not failures, "\n\n".join(item[:800] for item in failures) + server.log_text()[-4000:]
