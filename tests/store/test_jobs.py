"""The job queue: configuration forms, and a task that really runs through Redis and the store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import redis
from huey import MemoryHuey, RedisHuey, SqliteHuey
from sqlalchemy import Engine, text

from cpxm.jobs import default_queue_file, job_session, make_huey
from tests.conftest import url_of

INSERT_COUNTRY = "INSERT INTO countries (code, name, default_language) VALUES (:code, 'Test', 'en')"


def test_unset_jobs_url_keeps_the_queue_beside_an_sqlite_store(tmp_path: Path) -> None:
    queue = make_huey("", f"sqlite:///{tmp_path}/store.db")
    assert isinstance(queue, SqliteHuey)
    assert (tmp_path / "store.jobs.db").exists()
    assert default_queue_file("postgresql+psycopg://db/cpxm") == "cpxm-jobs.db"


def test_immediate_jobs_url_runs_tasks_in_process() -> None:
    queue = make_huey("immediate")
    assert isinstance(queue, MemoryHuey)
    assert queue.immediate

    @queue.task()
    def double(value: int) -> int:
        return value * 2

    assert double(21)() == 42


def test_redis_and_sqlite_urls_choose_their_storage(tmp_path: Path) -> None:
    assert isinstance(make_huey("redis://127.0.0.1:6379/3"), RedisHuey)
    assert isinstance(make_huey(f"sqlite:///{tmp_path}/jobs.db"), SqliteHuey)


def test_unknown_jobs_url_is_refused_with_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="expected 'immediate', redis://"):
        make_huey("amqp://127.0.0.1")


def test_job_session_commits_on_success_and_rolls_back_on_error(store_engine: Engine) -> None:
    url = url_of(store_engine)
    with job_session(url) as session:
        session.execute(text(INSERT_COUNTRY), {"code": "ZZ"})
    with pytest.raises(RuntimeError), job_session(url) as session:
        session.execute(text(INSERT_COUNTRY), {"code": "ZY"})
        raise RuntimeError("task failed")
    with store_engine.connect() as connection:
        codes = connection.execute(text("SELECT code FROM countries ORDER BY code")).scalars()
        assert list(codes) == ["ZZ"]


def test_a_task_enqueued_on_redis_is_run_by_a_consumer() -> None:
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip("Redis not reachable at 127.0.0.1:6379; start it to run the queue test")
    queue = make_huey("redis://127.0.0.1:6379/15")
    queue.flush()
    ran = threading.Event()

    @queue.task()
    def mark() -> str:
        ran.set()
        return "done"

    result = mark()
    assert not ran.is_set()  # enqueued, not run: the caller does not execute it
    # What a consumer does: take the task off the Redis queue and execute it.
    queued = queue.dequeue()
    assert queued is not None
    queue.execute(queued)
    try:
        assert ran.is_set()
        assert result.get(blocking=True, timeout=10) == "done"
    finally:
        queue.flush()
