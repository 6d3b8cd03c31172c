"""First loads of the journeys, coordination and drivers pages on a demo store, cold and warm.

    uv run python -m benchmarks.first_loads --url sqlite:////tmp/cpxm-scale1.db [--runs 5]
    uv run python -m benchmarks.first_loads \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_s10 [--pages journeys]

Make the store with ``CPXM_DATABASE_URL=sqlite:////tmp/cpxm-scale1.db cpxm demo --no-serve``
(scale 1). The store is only read. Each page is asked in-process (TestClient: routing,
queries, charts, template; no network): first once in a fresh app ("first": what the first
visitor after a start waits for, Ibis compiling the page's SQL included), then ``--runs``
times cold (every report cache emptied first: what the first view after new data costs) and
``--runs`` times warm (cached). Access is overridden with an admin principal: it is not what
is measured.

Wall time on a shared machine is mostly the queue for the cores, so each cold view's CPU
seconds are given too: this process's (the app, and SQLite's work) plus, for PostgreSQL on
this machine, its server processes' (``benchmarks.cpu``). The load average is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from benchmarks.cpu import store_cpu_seconds
from cpxm.access import ALL_POLICIES, Principal, Role
from cpxm.app import create_app
from cpxm.db import make_engine

PAGES = {
    "journeys": "/analytics/journeys",
    "coordination": "/analytics/coordination",
    "drivers": "/analytics/drivers",
}


def _timed(engine: Engine, runs: int, call: Callable[[], None]) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run."""
    walls, cpus = [], []
    for _ in range(runs):
        started_cpu = store_cpu_seconds(engine)  # before the clock: it asks PostgreSQL
        started = time.perf_counter()
        call()
        walls.append(time.perf_counter() - started)
        cpus.append(store_cpu_seconds(engine) - started_cpu)
    return walls, cpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the store (SQLAlchemy URL)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", nargs="*", choices=sorted(PAGES), default=list(PAGES))
    args = parser.parse_args(argv)
    engine = make_engine(args.url)
    app = create_app(engine)
    admin = Principal(user_id=0, email="bench@localhost", display_name="Benchmark",
                      role=Role.ADMIN, method="token")  # fmt: skip
    for policy in ALL_POLICIES:
        app.dependency_overrides[policy] = lambda: admin
    print(f"store: {engine.dialect.name} {engine.url.database}; runs: {args.runs}")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print("| page | first | first CPU | cold p50 | cold max | cold CPU p50 | warm p50 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    with TestClient(app) as client:
        for name in args.pages:
            path = PAGES[name]

            def get(path: str = path) -> None:
                response = client.get(path)
                assert response.status_code == 200, (
                    path,
                    response.status_code,
                    response.text[:300],
                )

            def cold(path: str = path) -> None:
                app.state.overview_cache._cached = None
                if getattr(app.state, "report_cache", None) is not None:
                    app.state.report_cache.clear()
                get(path)

            (first,), (first_cpu,) = _timed(
                engine, 1, get
            )  # compiles the SQL, templates, chart specs
            cold_times, cold_cpu = _timed(engine, args.runs, cold)
            warm_times, _ = _timed(engine, args.runs, get)
            print(
                f"| {name} | {first:.2f} s | {first_cpu:.2f} s "
                f"| {statistics.median(cold_times):.2f} s | {max(cold_times):.2f} s "
                f"| {statistics.median(cold_cpu):.2f} s "
                f"| {statistics.median(warm_times):.2f} s |"
            )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
