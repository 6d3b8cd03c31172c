"""Background and scheduled jobs, run by Huey.

One queue for the whole product. Domains declare their tasks in a ``jobs.py`` of their own with
``@huey.task()`` / ``@periodic(...)`` (run once per slot across workers) and list that module
in ``TASK_MODULES``, so the worker (``cpxm worker``) registers every task. A task body stays
thin: it opens a session with ``job_session()``, calls a typed service function, and the session
commits when the block ends.
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

``CPXM_JOBS_QUEUE`` names the queue (default ``cpxm``): deployments that share one Redis give
each its own name, so no worker takes another store's tasks.

**The store is the truth; the queue is only a nudge** (docs/jobs.md). Work a task does is also
recorded in the store as due (feedback ``pending``, an invitation's email not yet sent), and a
periodic sweep does whatever is still due: a task lost with a killed worker or an unreachable
queue is done by the next sweep, and every worker sweeps once as it starts.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from huey.consumer import Consumer
from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cpxm.config import get_settings
from cpxm.db import make_engine
from cpxm.timeutil import utc_now

logger = logging.getLogger(__name__)
DEFAULT_QUEUE_NAME = "cpxm"

# Every module that declares tasks. The worker imports them all, so a task is never unknown to it.
TASK_MODULES: tuple[str, ...] = (
    "cpxm.ingest.jobs",
    "cpxm.surveys.jobs",
    "cpxm.safety.jobs",
    "cpxm.cases.jobs",
    "cpxm.retention.jobs",
    "cpxm.analytics.jobs",
    "cpxm.digest.jobs",
)


def make_huey(jobs_url: str, database_url: str = "", name: str = DEFAULT_QUEUE_NAME) -> Huey:
    """The queue for ``jobs_url`` (see the module docstring); a clear error for an unknown form."""
    url = jobs_url.strip()
    if url == "immediate":
        return MemoryHuey(name, immediate=True)
    if url == "":
        queue_file = Path(default_queue_file(database_url))
        # Beside a store whose folder `cpxm init` has yet to create: SQLite cannot open it.
        queue_file.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=str(queue_file))
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url)
    if url.startswith("sqlite:///"):
        return SqliteHuey(name, filename=url.removeprefix("sqlite:///"))
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


huey: Huey = make_huey(
    os.environ.get("CPXM_JOBS_URL", ""),
    get_settings().database_url,
    os.environ.get("CPXM_JOBS_QUEUE", "").strip() or DEFAULT_QUEUE_NAME,
)


def enqueue_after_commit(task: TaskWrapper, *args: object) -> bool:
    """Nudge a worker about work already committed; False, with one log line, if the queue
    cannot take it (Redis down, the queue file locked).

    Only for tasks whose work a periodic sweep finds in the store too: then a queue that is down
    delays that work by a minute and loses none. Raising instead would tell a caller whose data
    is stored that its request failed.
    """
    try:
        task(*args)
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        logger.warning(
            "job queue unreachable (%s%s); %s is left to the periodic sweep",
            type(error).__name__,
            f": {reason}" if reason else "",
            task.task_class.__name__,
        )
        return False
    return True


# Tasks a worker enqueues once when it starts, to pick up at once what the store says is due
# (what a killed worker left half done, what arrived while the queue was down).
RECOVERY_TASKS: list[TaskWrapper] = []


def recover_on_start(task: TaskWrapper) -> TaskWrapper:
    """Register a task to be enqueued once by every worker (process) that starts."""
    RECOVERY_TASKS.append(task)
    return task


_recovery_enqueued = threading.Event()
_recovery_lock = threading.Lock()


@huey.on_startup()
def _enqueue_recovery_once() -> None:
    # Huey calls its startup hooks in every worker thread; one process enqueues them once.
    with _recovery_lock:
        if _recovery_enqueued.is_set():
            return
        _recovery_enqueued.set()
    load_task_modules()
    for task in RECOVERY_TASKS:
        enqueue_after_commit(task)


def latest_slot(schedule: Callable[[datetime], bool], now: datetime) -> datetime:
    """The latest minute at or before ``now`` that ``schedule`` fires in: the run a task
    enqueued by it stands for, even when a busy worker starts it a minute late."""
    minute = now.replace(second=0, microsecond=0)
    for back in range(8 * 24 * 60):  # a weekly job started up to a day late still finds its slot
        candidate = minute - timedelta(minutes=back)
        if schedule(candidate):
            return candidate
    return minute


def claim_scheduled_run(session: Session, task: str, slot: datetime) -> bool:
    """Whether this process runs ``task`` for ``slot``: True for exactly one of the workers
    that ask. One conditional UPDATE decides, atomically on both engines; it is the
    transaction's first statement, so SQLite waits for its write lock instead of failing a
    read transaction's upgrade."""
    from cpxm.workspace.models import ScheduledRun

    def claim() -> bool:
        claimed = session.execute(
            update(ScheduledRun)
            .where(
                ScheduledRun.task == task,
                or_(ScheduledRun.last_slot.is_(None), ScheduledRun.last_slot < slot),
            )
            .values(last_slot=slot, last_started_at=utc_now(), runs=ScheduledRun.runs + 1)
            .execution_options(synchronize_session=False)
        )
        return claimed.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    if claim():
        return True
    if session.get(ScheduledRun, task) is None:
        try:
            with session.begin_nested():
                session.add(ScheduledRun(task=task, runs=0, skipped=0))
        except IntegrityError:
            pass  # another worker made the row first; the UPDATE decides between us
        if claim():
            return True
    session.execute(
        update(ScheduledRun)
        .where(ScheduledRun.task == task)
        .values(skipped=ScheduledRun.skipped + 1)
        .execution_options(synchronize_session=False)
    )
    return False


def periodic(schedule: Callable[[datetime], bool]) -> Callable[[Callable[[], None]], TaskWrapper]:
    """``@huey.periodic_task(schedule)``, run once per slot however many workers schedule it.

    Every worker process runs Huey's scheduler (each checks the schedules once a minute, at its
    own phase), so with two ``cpxm worker`` processes on one Redis queue each periodic task was
    enqueued, and run, twice. A run claims its slot (the minute the schedule fired in) in the
    store (:func:`claim_scheduled_run`); the copies skip. A call by hand
    (``task.call_local()``) runs without asking.
    """

    def decorate(function: Callable[[], None]) -> TaskWrapper:
        name = f"{function.__module__}.{function.__name__}"

        @functools.wraps(function)
        def run_once(task: object | None = None) -> None:
            if task is not None:
                with job_session() as session:
                    if not claim_scheduled_run(session, name, latest_slot(schedule, utc_now())):
                        logger.info("%s: this slot's run is another worker's", name)
                        return
            function()

        return huey.periodic_task(schedule, context=True)(run_once)

    return decorate


def runs_embedded_worker() -> bool:
    """Whether ``cpxm serve`` should run the worker itself: the queue is a local SQLite file."""
    return isinstance(huey, SqliteHuey)


def start_worker(workers: int = 1) -> Consumer:
    """Start worker threads and the scheduler (periodic tasks) for ``huey``; ``.stop()`` ends them.

    Call from the main thread: Huey installs its signal handlers there, and a server started
    afterwards (uvicorn) installs its own over them.
    """
    from cpxm.safety import arrival

    load_task_modules()
    arrival.install()  # feedback an import task commits is screened as it commits
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
