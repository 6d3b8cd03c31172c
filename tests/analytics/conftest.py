"""A small demo workspace, generated once per engine and committed, for the tests that check
the analytics recover the effects the demo generator planted (its manifest in ``demo_runs``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.db import make_engine
from cpxm.demo.models import DemoRun
from cpxm.demo.service import generate_demo
from cpxm.migrate import upgrade_database
from tests.conftest import postgres_test_url

DEMO_SCALE = 0.3
DEMO_SEED = 11


@pytest.fixture(scope="session")
def _sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("demo") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    generate_demo(engine, scale=DEMO_SCALE, seed=DEMO_SEED)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _postgresql_demo() -> Iterator[Engine]:
    engine = make_engine(postgres_test_url("analytics_demo_"))
    upgrade_database(engine)
    generate_demo(engine, scale=DEMO_SCALE, seed=DEMO_SEED)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_engine(request: pytest.FixtureRequest) -> Engine:
    """A committed demo store (read it, never write to it), once per engine."""
    return request.getfixturevalue(f"_{request.param}_demo")  # type: ignore[no-any-return]


@pytest.fixture
def demo_session(demo_engine: Engine) -> Iterator[Session]:
    with Session(demo_engine) as session:
        yield session
        session.rollback()


@pytest.fixture
def manifest(demo_session: Session) -> dict[str, Any]:
    run = demo_session.scalars(select(DemoRun)).one()
    return run.manifest
