"""First loads of the journeys, coordination and drivers pages on a demo store, cold and warm.

    uv run python -m benchmarks.first_loads --url sqlite:////tmp/cpxm-scale1.db [--runs 5]

Make the store with ``CPXM_DATABASE_URL=sqlite:////tmp/cpxm-scale1.db cpxm demo --no-serve``
(scale 1). Each page is asked in-process (TestClient: routing, queries, charts, template; no
network) once to warm imports and templates, then ``--runs`` times cold (every report cache
emptied first: what the first view after new data costs) and ``--runs`` times warm (cached).
Access is overridden with an admin principal: it is not what is measured.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from cpxm.access import ALL_POLICIES, Principal, Role
from cpxm.app import create_app
from cpxm.db import make_engine

PAGES = {
    "journeys": "/analytics/journeys",
    "coordination": "/analytics/coordination",
    "drivers": "/analytics/drivers",
}


def _timed(runs: int, call: Callable[[], None]) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the store (SQLAlchemy URL)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    engine = make_engine(args.url)
    app = create_app(engine)
    admin = Principal(user_id=0, email="bench@localhost", display_name="Benchmark",
                      role=Role.ADMIN, method="token")  # fmt: skip
    for policy in ALL_POLICIES:
        app.dependency_overrides[policy] = lambda: admin
    print(f"store: {engine.dialect.name} {engine.url.database}")
    print("| page | cold p50 | cold max | warm p50 |")
    print("| --- | ---: | ---: | ---: |")
    with TestClient(app) as client:
        for name, path in PAGES.items():

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

            get()  # imports, compiled templates, chart templates
            cold_times = _timed(args.runs, cold)
            warm_times = _timed(args.runs, get)
            print(
                f"| {name} | {statistics.median(cold_times):.2f} s | {max(cold_times):.2f} s "
                f"| {statistics.median(warm_times):.2f} s |"
            )
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
