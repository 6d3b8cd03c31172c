"""A demo store made as a user makes it (``cpxm demo``), fitted and scored with the CLI, once per
session and engine (SQLite, and PostgreSQL where a server answers): the prediction tests read it
and roll back whatever they change; a test that commits works on a copy (``copy_store``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from cpxm.backup import backup_store
from cpxm.db import make_engine
from tests.conftest import POSTGRES_ADMIN_URL, postgres_test_url
from tests.conftest import _created_databases as created_databases

DEMO_SCALE = "0.3"
DEMO_SEED = "11"


@dataclass
class ScoredStore:
    engine: Engine
    url: str
    fit: dict[str, Any]  # `cpxm predict fit --json`
    score_output: str  # `cpxm predict score`


def run_cli(url: str, *args: str, timeout: float = 2400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CPXM_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "cpxm", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def scored_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScoredStore]:
    if request.param == "postgresql":
        url = postgres_test_url("predict_")
    else:
        path: Path = tmp_path_factory.mktemp("predict") / "demo.db"
        url = f"sqlite:///{path}"
    demo = run_cli(url, "demo", "--scale", DEMO_SCALE, "--seed", DEMO_SEED, "--drift", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    fit = run_cli(url, "predict", "fit", "--json")
    assert fit.returncode == 0, fit.stderr
    score = run_cli(url, "predict", "score")
    assert score.returncode == 0, score.stderr
    engine = make_engine(url)
    yield ScoredStore(engine, url, json.loads(fit.stdout), score.stdout)
    engine.dispose()


def copy_store(store: ScoredStore, tmp_path: Path) -> str:
    """A copy of the scored store that a test may commit to, as a URL on the same engine."""
    if store.engine.dialect.name == "sqlite":
        copy = tmp_path / "copy.db"
        backup_store(store.engine, out=copy)
        return f"sqlite:///{copy}"
    # PostgreSQL copies a database from a template nobody is connected to.
    store.engine.dispose()
    source = make_url(store.url)
    target = f"{source.database}_copy_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{source.database}"'))
    admin.dispose()
    created_databases.append(target)
    return source.set(database=target).render_as_string(hide_password=False)
