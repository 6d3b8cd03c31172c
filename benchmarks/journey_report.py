"""Benchmark: the journeys report (funnel, paths, moments of truth, peak-end) on a store.

    uv run python -m benchmarks.journey_report --url sqlite:////tmp/i7/scale10.db
    uv run python -m benchmarks.journey_report --url postgresql+psycopg://postgres@127.0.0.1:5432/i7_s10

Times ``journey_report`` for the first journey, uncached (what the first view of
``/analytics/journeys`` computes), and the peak-end part of it on its own. Make the store with
``cpxm demo --no-serve`` (or see the analytics pages benchmark for scale 10).
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy.orm import Session

from cpxm.analytics.journeys import JourneyQuery, journey_report, peak_end
from cpxm.db import make_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the store (SQLAlchemy URL)")
    args = parser.parse_args(argv)
    engine = make_engine(args.url)
    with Session(engine) as session:
        started = time.perf_counter()
        report = journey_report(session, JourneyQuery())
        total = time.perf_counter() - started
        started = time.perf_counter()
        peak_end(session, JourneyQuery())
        peak = time.perf_counter() - started
    engine.dispose()
    print(f"store:           {engine.dialect.name}")
    print(f"journey:         {report.journey_code} ({report.stakeholders:,} stakeholders)")
    print(f"journey report:  {total:.1f} s (peak-end alone: {peak:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
