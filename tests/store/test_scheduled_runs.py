"""A periodic job runs once per period however many workers schedule it (``cpxm.jobs.periodic``)."""

from __future__ import annotations

import threading
from datetime import timedelta

from huey import crontab
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from cpxm.jobs import _shortest_gap, claim_scheduled_run, periodic
from cpxm.timeutil import utc_now
from cpxm.workspace.models import ScheduledRun


def test_the_period_is_read_off_the_schedule() -> None:
    assert _shortest_gap(crontab(minute="*")) == timedelta(minutes=1)
    assert _shortest_gap(crontab(minute="*/5")) == timedelta(minutes=5)
    assert _shortest_gap(crontab(minute="7")) == timedelta(hours=1)
    assert _shortest_gap(crontab(minute="17", hour="3")) == timedelta(days=1)
    assert _shortest_gap(crontab(minute="0", hour="6", day_of_week="1")) == timedelta(days=1)


def test_one_claim_per_period(store_engine: Engine) -> None:
    period = timedelta(minutes=5)
    with Session(store_engine) as session:
        assert claim_scheduled_run(session, "cases.scan", period)
        assert not claim_scheduled_run(session, "cases.scan", period)
        assert claim_scheduled_run(session, "cases.sweep", period)  # another job, its own period
        session.commit()
        # Half a period later the next run is due.
        session.execute(
            update(ScheduledRun)
            .where(ScheduledRun.task == "cases.scan")
            .values(last_started_at=utc_now() - timedelta(minutes=3))
        )
        assert claim_scheduled_run(session, "cases.scan", period)
        session.commit()
        run = session.get(ScheduledRun, "cases.scan")
        assert run is not None and (run.runs, run.skipped) == (2, 1)


def test_workers_asking_at_once_get_one_run(store_engine: Engine) -> None:
    period = timedelta(minutes=1)
    start = threading.Barrier(4)
    claims: list[bool] = []

    def worker() -> None:
        with Session(store_engine) as session:
            start.wait()
            claims.append(claim_scheduled_run(session, "surveys.minute", period))
            session.commit()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claims) == [False, False, False, True]


def test_a_call_by_hand_always_runs() -> None:
    ran: list[int] = []

    @periodic(crontab(minute="*"))
    def tally() -> None:
        ran.append(1)

    tally.call_local()
    tally.call_local()
    assert ran == [1, 1]
