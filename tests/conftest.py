"""Test fixtures: real SQLite and PostgreSQL stores built by the migrations, one rolled-back
transaction per test.

PostgreSQL tests use the service at ``CPXM_TEST_POSTGRES_URL`` (default: the ``test`` database on
127.0.0.1:5432); each pytest worker creates and migrates its own database next to it. Where no
server answers, those tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

# Jobs run inside the test that enqueues them, on its own transaction's data, unless a test
# chooses a queue itself. Set before cpxm.jobs is first imported.
os.environ.setdefault("CPXM_JOBS_URL", "immediate")

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg.errors import DeadlockDetected, LockNotAvailable
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cpxm.app import create_app
from cpxm.auth.service import create_api_token, create_user
from cpxm.db import make_engine
from cpxm.migrate import upgrade_database
from cpxm.safety import arrival
from cpxm.schema import metadata
from tests.smtp import Inbox, smtp_server

# Every process of the product installs the safety net's screen-after-commit hook (the web app,
# the worker, every command); so does the test process, whatever a test builds first.
arrival.install()

POSTGRES_ADMIN_URL = os.environ.get(
    "CPXM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _worker_suffix() -> str:
    # Unique per test run as well as per worker: several runs may share one server (a developer's
    # run beside CI, two checkouts), and DROP DATABASE ... WITH (FORCE) would kill each other's
    # connections if the names were shared.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8] or f"p{os.getpid()}"
    return f"{run}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


_created_databases: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the databases this process created, so runs do not pile them up on the server."""
    if not _created_databases:
        return
    try:
        admin = create_engine(
            make_url(POSTGRES_ADMIN_URL),
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 3},
        )
        with admin.connect() as connection:
            for database in _created_databases:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
    except OperationalError:
        pass


def postgres_test_url(purpose: str = "") -> str:
    """Create (or recreate) this worker's database and return its URL; skip if no server."""
    admin_url = make_url(POSTGRES_ADMIN_URL)
    database = f"cpxm_test_{purpose}{_worker_suffix()}"
    try:
        admin = create_engine(
            admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        _created_databases.append(database)
    except OperationalError as error:
        # Only an unreachable server is a reason to skip; any other failure is a real error.
        pytest.skip(
            f"PostgreSQL not reachable at {admin_url.render_as_string(hide_password=True)} "
            f"({type(error.orig).__name__}); set CPXM_TEST_POSTGRES_URL to run these tests"
        )
    return admin_url.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("store") / "cpxm-test.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_engine() -> Iterator[Engine]:
    engine = make_engine(postgres_test_url())
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The store under test, once per engine."""
    return request.getfixturevalue(f"{request.param}_engine")  # type: ignore[no-any-return]


@pytest.fixture
def session_maker(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions joined to one outer transaction that is rolled back after the test.

    Code under test may commit: with ``create_savepoint`` its commits release savepoints inside
    the outer transaction, so nothing outlives the test.
    """
    connection = engine.connect()
    outer = connection.begin()
    maker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield maker
    outer.rollback()
    connection.close()


@pytest.fixture
def session(session_maker: sessionmaker[Session]) -> Iterator[Session]:
    session = session_maker()
    yield session
    session.close()


def bearer_headers(maker: sessionmaker[Session], role: str = "admin") -> dict[str, str]:
    """Headers that sign requests in as a new user of ``role`` (an API token), committed through
    ``maker`` (the test's transaction, or ``sessionmaker(bind=engine)`` for a committing store)."""
    with maker() as session:
        user = create_user(session, email=f"{role}-{uuid.uuid4().hex[:10]}@test.example", role=role)
        issued = create_api_token(session, user=user, name="tests")
        session.commit()
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def app(session_maker: sessionmaker[Session]) -> FastAPI:
    """The whole app, on the test's transaction."""
    return create_app(sessionmaker_=session_maker)


@pytest.fixture
def client(app: FastAPI, session_maker: sessionmaker[Session]) -> Iterator[TestClient]:
    """The whole app, on the test's transaction, signed in as an admin (by API token)."""
    with TestClient(app, headers=bearer_headers(session_maker, "admin")) as test_client:
        yield test_client


@pytest.fixture
def client_as(
    app: FastAPI, session_maker: sessionmaker[Session]
) -> Iterator[Callable[[str], TestClient]]:
    """``client_as("commercial")``: a client signed in as a new user of that role."""
    opened: list[TestClient] = []

    def make(role: str) -> TestClient:
        test_client = TestClient(app, headers=bearer_headers(session_maker, role))
        opened.append(test_client)
        return test_client

    yield make
    for test_client in opened:
        test_client.close()


@pytest.fixture
def anonymous_client(app: FastAPI) -> Iterator[TestClient]:
    """The whole app with nobody signed in; HTTPS, so secure cookies are kept."""
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("template") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_committing_engine() -> Iterator[Engine]:
    engine = make_engine(postgres_test_url("commit_"))
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_engine(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[Engine]:
    """An empty migrated store that code under test may commit to (imports, jobs, the CLI).

    SQLite: a fresh copy of a migrated file. PostgreSQL: a database of its own, emptied after
    each test (and before the next one, if that emptying failed).
    """
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(_sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("_postgres_committing_engine")
    if engine.url.database in _dirty_stores:
        empty_postgres_store(engine)
    _dirty_stores.add(engine.url.database)
    yield engine
    empty_postgres_store(engine)


# Committing PostgreSQL stores whose last test's rows may still be there.
_dirty_stores: set[str | None] = set()

_EMPTYING_ATTEMPTS = 5


def empty_postgres_store(engine: Engine) -> None:
    """Empty every table of ``engine``'s database, ending first whatever the test left connected.

    A test leaves connections behind: the warm-up thread of an app it built still reading the
    overview, a worker or CLI process it started. TRUNCATE needs every table to itself, so it
    waits for them, and a reader taking tables in another order deadlocked with it (and the rows
    it left broke the next test). So this closes our connections, terminates theirs, and tries
    again if one connected meanwhile; only a store that was emptied counts as clean.
    """
    engine.dispose()
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    for attempt in range(1, _EMPTYING_ATTEMPTS + 1):
        with engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            connection.commit()
            try:
                with connection.begin():
                    connection.execute(text("SET LOCAL lock_timeout = '3s'"))
                    connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            except OperationalError as error:
                contended = isinstance(error.orig, (LockNotAvailable, DeadlockDetected))
                if not contended or attempt == _EMPTYING_ATTEMPTS:
                    raise
                continue
        _dirty_stores.discard(engine.url.database)
        return


def url_of(engine: Engine) -> str:
    """The URL to give the CLI (``CPXM_DATABASE_URL``) for ``engine``."""
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback, configured as the product's mail server."""
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("CPXM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("CPXM_SMTP_PORT", str(port))
        monkeypatch.setenv("CPXM_PUBLIC_URL", "https://cpxm.example")
        yield inbox
