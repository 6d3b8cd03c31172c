"""Benchmark: the monthly digest on a demo store, per step, for each kind of audience.

    PYTHONPATH=src python -m benchmarks.digest --url sqlite:////tmp/demo/cpxm.db --month 2025-05

Times building the digest (every figure, from the analytics services), drawing its charts
(vl-convert PNG) and laying out the PDF (WeasyPrint), for leadership, the first department and
the first therapeutic area, as an unnamed reader (counts only): wall time per step and the
process's CPU time for all of them (the machine is shared, so wall time includes waiting).
Make the store with ``cpxm demo --no-serve --scale S``.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import UTC, datetime

from pypdf import PdfReader
from sqlalchemy.orm import Session

import cpxm.schema  # noqa: F401 - every table, as the CLI loads them
from cpxm.db import make_engine
from cpxm.digest import render, service


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the store (SQLAlchemy URL)")
    parser.add_argument("--month", required=True, help="YYYY-MM")
    args = parser.parse_args(argv)
    engine = make_engine(args.url)
    month = service.month_of(args.month)
    with Session(engine) as session:
        every = service.audiences(session)
        chosen = [every[0]]
        chosen += [next(a for a in every if a.kind == kind) for kind in service.AUDIENCE_KINDS]
        print(f"store: {engine.dialect.name}, month {month.key}, {len(every)} audiences")
        print("| audience | build | charts | PDF | total | CPU | PDF pages |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for audience in chosen:
            cpu = time.process_time()
            started = time.perf_counter()
            digest = service.build_digest(
                session, month=month, audience=audience, principal=None, now=datetime.now(UTC)
            )
            built = time.perf_counter()
            charts = render.charts(digest)
            drawn = time.perf_counter()
            pdf = render.pdf(digest, charts)
            laid_out = time.perf_counter()
            cpu = time.process_time() - cpu
            pages = len(PdfReader(io.BytesIO(pdf)).pages)
            print(
                f"| {audience.key} | {built - started:.1f} s | {drawn - built:.1f} s "
                f"| {laid_out - drawn:.1f} s | {laid_out - started:.1f} s | {cpu:.1f} s "
                f"| {pages} |"
            )
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
