"""Server time of the EX-CX page (``/analytics/ex``) and its API, cold and warm, on SQLite at
demo scale 1 and, when asked, on PostgreSQL at a larger scale.

    uv run python -m benchmarks.ex_page [--runs 10] [--scale 1]
        [--sqlite $TMPDIR/cpxm-bench-ex-1.db]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_bench_ex --pg-scale 10
         --pg-sqlite $TMPDIR/cpxm-bench-analytics.db]
    uv run python -m benchmarks.ex_page --runs 10 \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_s10

With ``--url`` the page is timed on that store as it is (only read: no demo, no copy, no
migration), for example a scale-10 demo made by ``cpxm demo --scale 10``.

The demo is generated into the SQLite file when missing (about two minutes at scale 1) and, for
PostgreSQL, the ``--pg-sqlite`` file (the analytics benchmark's scale-10 store when present) is
copied when the database is missing or holds other counts. Each path is asked ``--runs`` times
in-process (TestClient: routing, queries, statistics and template; no network), cold (the report
cache emptied first: the cost after new data arrives) and warm (cached). The issue's budget: the
page under 1 s cold. Beside the wall time, the CPU time of each cold run (the server's own work,
which a loaded machine's queue for the cores does not stretch: this process's and, for a local
PostgreSQL, its server processes') and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from benchmarks.analytics_pages import (
    counts,
    percentile,
    prepare_postgres,
    prepare_sqlite,
)
from benchmarks.cpu import store_cpu_seconds
from cpxm.access import ALL_POLICIES, Principal, Role
from cpxm.app import create_app
from cpxm.db import make_engine

PATHS = {"page": "/analytics/ex", "api": "/api/v1/analytics/ex"}


def time_runs(
    engine: Engine, runs: int, call: Callable[[], object]
) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each run, after one warm-up (CPU: this process's and, for
    PostgreSQL on this machine, its server processes', ``benchmarks.cpu``)."""
    call()
    wall, cpu = [], []
    for _ in range(runs):
        started_cpu = store_cpu_seconds(engine)  # before the clock: it asks PostgreSQL
        started = time.perf_counter()
        call()
        wall.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (store_cpu_seconds(engine) - started_cpu))
    return wall, cpu


def timings(engine: Engine, runs: int) -> dict[str, dict[str, list[float]]]:
    app = create_app(engine)
    viewer = Principal(user_id=0, email="bench@localhost", display_name="Benchmark",
                       role=Role.ANALYST, method="token")  # fmt: skip
    for policy in ALL_POLICIES:  # access is not what is measured
        app.dependency_overrides[policy] = lambda: viewer
    results: dict[str, dict[str, list[float]]] = {}
    with TestClient(app) as client:
        for name, path in PATHS.items():

            def cold(path: str = path) -> None:
                if getattr(app.state, "report_cache", None) is not None:
                    app.state.report_cache.clear()
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            def warm(path: str = path) -> None:
                assert client.get(path).status_code == 200

            cold_wall, cold_cpu = time_runs(engine, runs, cold)
            results[name] = {
                "cold": cold_wall,
                "cold_cpu": cold_cpu,
                "warm": time_runs(engine, runs, warm)[0],
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--sqlite", type=Path, default=Path(tempfile.gettempdir()) / "cpxm-bench-ex-1.db"
    )
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--url", default=None, help="time this store only, as it is")
    parser.add_argument("--pg-scale", type=float, default=10.0)
    parser.add_argument(
        "--pg-sqlite", type=Path, default=Path(tempfile.gettempdir()) / "cpxm-bench-analytics.db"
    )
    arguments = parser.parse_args()
    engines: dict[str, Engine] = {}
    if arguments.url:
        engine = make_engine(arguments.url)
        responses, interactions = counts(engine)
        print(f"{engine.dialect.name}: {responses:,} responses, {interactions:,} contacts")
        engines[f"{engine.dialect.name} `{engine.url.database}`"] = engine
        report(engines, arguments.runs)
        return
    sqlite_engine = prepare_sqlite(arguments.sqlite, arguments.scale)
    responses, interactions = counts(sqlite_engine)
    print(f"SQLite scale {arguments.scale:g}: {responses:,} responses, {interactions:,} contacts")
    engines[f"SQLite, scale {arguments.scale:g}"] = sqlite_engine
    if arguments.postgres:
        source = prepare_sqlite(arguments.pg_sqlite, arguments.pg_scale)
        expected = counts(source)
        engines[f"PostgreSQL, scale {arguments.pg_scale:g}"] = prepare_postgres(
            arguments.postgres, arguments.pg_sqlite, expected
        )
        print(f"PostgreSQL: {expected[0]:,} responses, {expected[1]:,} contacts")
    report(engines, arguments.runs)


def report(engines: dict[str, Engine], runs: int) -> None:
    print(f"\nruns per figure: {runs}; load average {os.getloadavg()[0]:.1f} at start")
    print("| path | store | cold p50 | cold p95 | cold CPU p50 | cold CPU p95 | warm p95 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for store, engine in engines.items():
        measured = timings(engine, runs)
        for name, path in PATHS.items():
            cold, cpu, warm = (measured[name][k] for k in ("cold", "cold_cpu", "warm"))
            print(
                f"| `{path}` | {store} | {statistics.median(cold):.0f} ms | "
                f"{percentile(cold, 0.95):.0f} ms | {statistics.median(cpu):.0f} ms | "
                f"{percentile(cpu, 0.95):.0f} ms | {percentile(warm, 0.95):.0f} ms |"
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
