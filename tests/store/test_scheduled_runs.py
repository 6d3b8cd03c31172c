"""A periodic job runs once per slot however many workers schedule it (``cpxm.jobs.periodic``)."""

from __future__ import annotations

import threading
from datetime import datetime

from huey import crontab
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.jobs import claim_scheduled_run, latest_slot, periodic
from cpxm.workspace.models import ScheduledRun

TEN_PAST = datetime(2025, 6, 3, 10, 10, 42)


def test_a_run_stands_for_the_minute_its_schedule_fired_in() -> None:
    assert latest_slot(crontab(minute="*"), TEN_PAST) == datetime(2025, 6, 3, 10, 10)
    assert latest_slot(crontab(minute="*/5"), datetime(2025, 6, 3, 10, 7, 30)) == datetime(
        2025, 6, 3, 10, 5
    )
    assert latest_slot(crontab(minute="7"), TEN_PAST) == datetime(2025, 6, 3, 10, 7)
    assert latest_slot(crontab(minute="17", hour="3"), TEN_PAST) == datetime(2025, 6, 3, 3, 17)


def test_one_claim_per_slot(store_engine: Engine) -> None:
    slot = datetime(2025, 6, 3, 10, 10)
    with Session(store_engine) as session:
        assert claim_scheduled_run(session, "cases.scan", slot)
        assert not claim_scheduled_run(session, "cases.scan", slot)  # the other worker's copy
        assert claim_scheduled_run(session, "cases.sweep", slot)  # another job, its own slots
        assert not claim_scheduled_run(session, "cases.scan", datetime(2025, 6, 3, 10, 5))
        assert claim_scheduled_run(session, "cases.scan", datetime(2025, 6, 3, 10, 15))
        session.commit()
        run = session.get(ScheduledRun, "cases.scan")
        assert run is not None and (run.runs, run.skipped) == (2, 2)
        assert run.last_slot == datetime(2025, 6, 3, 10, 15)


def test_workers_asking_at_once_get_one_run(store_engine: Engine) -> None:
    slot = datetime(2025, 6, 3, 10, 11)
    start = threading.Barrier(4)
    claims: list[bool] = []

    def worker() -> None:
        with Session(store_engine) as session:
            start.wait()
            claims.append(claim_scheduled_run(session, "surveys.minute", slot))
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
