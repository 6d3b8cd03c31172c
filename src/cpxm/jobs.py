"""Background and scheduled jobs, run by Huey.

One queue for the whole product. Domains declare their tasks in a ``jobs.py`` of their own with
``@huey.task()`` / ``@huey.periodic_task(...)`` and list that module in ``TASK_MODULES``, so the
worker (``cpxm worker``) registers every task. A task body stays thin: it opens a session with
``job_session()``, calls a typed service function, and the session commits when the block ends.
Tests call the service functions directly; the wiring is tested with ``huey.immediate = True``.

Where the queue lives is ``CPXM_JOBS_URL``:

- unset or ``immediate``: tasks run in the calling process at once. The embedded demo and a
  single-user install need no worker this way; periodic tasks then run only under ``cpxm worker``.
- ``redis://host:port/db``: a Redis queue shared by the web app and any number of workers.
- ``sqlite:///path/to/jobs.db``: a queue in a SQLite file, for one machine without Redis.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cpxm.config import get_settings
from cpxm.db import make_engine

# Every module that declares tasks. The worker imports them all, so a task is never unknown to it.
TASK_MODULES: tuple[str, ...] = ()


def make_huey(jobs_url: str) -> Huey:
    """The queue for ``jobs_url`` (see the module docstring); a clear error for an unknown form."""
    url = jobs_url.strip()
    if url in ("", "immediate"):
        return MemoryHuey("cpxm", immediate=True)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("cpxm", url=url)
    if url.startswith("sqlite:///"):
        return SqliteHuey("cpxm", filename=url.removeprefix("sqlite:///"))
    raise ValueError(
        f"CPXM_JOBS_URL is '{jobs_url}', expected 'immediate', redis://HOST:PORT/DB "
        "or sqlite:///PATH"
    )


huey: Huey = make_huey(os.environ.get("CPXM_JOBS_URL", ""))


@cache
def _engine_for(database_url: str) -> Engine:
    # One engine (and pool) per store for the life of a worker process, not one per task.
    return make_engine(database_url)


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
