"""Background and scheduled jobs, run by Huey.

One queue for the whole product. Domains declare their tasks in a ``jobs.py`` of their own with
``@huey.task()`` / ``@huey.periodic_task(...)`` and list that module in ``TASK_MODULES``, so the
worker (``cpxm worker``) registers every task. A task body stays thin: it opens a session with
``job_session()``, calls a typed service function, and the session commits when the block ends.
Tests call the service functions directly; the wiring is tested with ``huey.immediate = True``.

Where the queue lives is ``CPXM_JOBS_URL``:

- unset: a SQLite queue file beside the store (``cpxm.db`` -> ``cpxm.jobs.db``; ``cpxm-jobs.db`` in
  the working directory when the store is PostgreSQL). ``cpxm serve`` (and so ``cpxm demo``) runs
  a worker inside its own process for it, so one command gives a working product.
- ``redis://host:port/db``: a Redis queue shared by the web app and any number of ``cpxm worker``
  processes (production).
- ``sqlite:///path/to/jobs.db``: a queue in a SQLite file of your choosing.
- ``immediate``: tasks run in the calling process at once, before the caller's transaction commits
  (tests; never a web app).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cpxm.config import get_settings
from cpxm.db import make_engine

# Every module that declares tasks. The worker imports them all, so a task is never unknown to it.
TASK_MODULES: tuple[str, ...] = (
    "cpxm.ingest.jobs",
    "cpxm.surveys.jobs",
    "cpxm.safety.jobs",
    "cpxm.cases.jobs",
)


def make_huey(jobs_url: str, database_url: str = "") -> Huey:
    """The queue for ``jobs_url`` (see the module docstring); a clear error for an unknown form."""
    url = jobs_url.strip()
    if url == "immediate":
        return MemoryHuey("cpxm", immediate=True)
    if url == "":
        return SqliteHuey("cpxm", filename=default_queue_file(database_url))
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("cpxm", url=url)
    if url.startswith("sqlite:///"):
        return SqliteHuey("cpxm", filename=url.removeprefix("sqlite:///"))
    raise ValueError(
        f"CPXM_JOBS_URL is '{jobs_url}', expected 'immediate', redis://HOST:PORT/DB "
        "or sqlite:///PATH"
    )


def default_queue_file(database_url: str) -> str:
    """Beside an SQLite store (``cpxm.db`` -> ``cpxm.jobs.db``), else in the working directory."""
    if database_url.startswith("sqlite:///") and not database_url.endswith(":memory:"):
        store = Path(database_url.removeprefix("sqlite:///"))
        return str(store.with_name(f"{store.stem}.jobs.db"))
    return "cpxm-jobs.db"


huey: Huey = make_huey(os.environ.get("CPXM_JOBS_URL", ""), get_settings().database_url)


def runs_embedded_worker() -> bool:
    """Whether ``cpxm serve`` should run the worker itself: the queue is a local SQLite file."""
    return isinstance(huey, SqliteHuey)


def start_worker(workers: int = 1) -> Consumer:
    """Start worker threads and the scheduler (periodic tasks) for ``huey``; ``.stop()`` ends them.

    Call from the main thread: Huey installs its signal handlers there, and a server started
    afterwards (uvicorn) installs its own over them.
    """
    load_task_modules()
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.start()
    return consumer


@cache
def _engine_for(database_url: str) -> Engine:
    # One engine (and pool) per store for the life of a worker process, not one per task.
    return make_engine(database_url)


def job_engine(database_url: str | None = None) -> Engine:
    """The configured store's engine, for jobs that commit as they go (imports)."""
    return _engine_for(database_url or get_settings().database_url)


@contextmanager
def job_session(database_url: str | None = None) -> Iterator[Session]:
    """A session on the configured store: commits when the block ends, rolls back on error."""
    engine = _engine_for(database_url or get_settings().database_url)
    with sessionmaker(bind=engine)() as session, session.begin():
        yield session


def load_task_modules() -> None:
    """Import every module in ``TASK_MODULES`` so their tasks are registered with ``huey``."""
    for module in TASK_MODULES:
        importlib.import_module(module)
