"""Benchmark: fit the at-risk model, score everyone, and run the outreach simulation on a demo.

    uv run python benchmarks/predict.py --database-url sqlite:////tmp/demo1.db
    uv run python benchmarks/predict.py --scale 1   # generates a fresh demo first (not timed)

Reports the wall (and CPU) time of ``fit_model`` (history read, features per cut-off, fits,
evaluation with bootstrap), of ``score_stakeholders`` (read, features, risk, reasons, bulk
insert), the held-out figures against both baselines, the planted-driver recovery and the
simulation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from cpxm.db import make_engine
from cpxm.demo.service import generate_demo
from cpxm.migrate import upgrade_database
from cpxm.predict.service import fit_model, score_stakeholders
from cpxm.predict.simulate import simulate_outreach


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="an existing demo store (else a fresh one)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--no-simulate",
        action="store_true",
        help="skip the simulation (a tiled store's manifest names only the first tile's people)",
    )
    args = parser.parse_args()
    url = args.database_url
    if url is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='cpxm-predict-')) / 'demo.db'}"
        engine = make_engine(url)
        upgrade_database(engine)
        generate_demo(engine, scale=args.scale, seed=args.seed, drift=True)
    else:
        engine = make_engine(url)
        upgrade_database(engine)
    with Session(engine) as session:
        server = _server_clock(session)
        started, cpu, served = time.perf_counter(), time.process_time(), server()
        model = fit_model(session, end=None)
        fit_seconds = time.perf_counter() - started
        fit_cpu = time.process_time() - cpu
        fit_server = _spent(server(), served)
        started, cpu, served = time.perf_counter(), time.process_time(), server()
        scoring = score_stakeholders(session, model=model)
        score_seconds = time.perf_counter() - started
        score_cpu = time.process_time() - cpu
        score_server = _spent(server(), served)
        session.commit()
        started = time.perf_counter()
        simulation = None if args.no_simulate else simulate_outreach(session)
        simulate_seconds = time.perf_counter() - started
        metrics = model.metrics
    report = {
        "fit_seconds": round(fit_seconds, 1),
        "score_seconds": round(score_seconds, 1),
        "simulate_seconds": round(simulate_seconds, 1),
        # CPU time of this process: on a shared machine, wall time also counts the waiting.
        "fit_cpu_seconds": round(fit_cpu, 1),
        "score_cpu_seconds": round(score_cpu, 1),
        # The PostgreSQL backend's own CPU (a server on this machine; None elsewhere).
        "fit_server_cpu_seconds": None if fit_server is None else round(fit_server, 1),
        "score_server_cpu_seconds": None if score_server is None else round(score_server, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "learn_examples": metrics["learn_examples"],
        "test": {key: metrics[key] for key in ("people", "positives", "positive_rate", "cutoffs")},
        "model": metrics["model"],
        "last_score": metrics["last_score"],
        "silent_rule": metrics["silent_rule"],
        "margins": metrics["margins"],
        "calibration": metrics["calibration"],
        "coefficients": metrics["coefficients"],
        "scored": scoring.scored,
        "top_reasons_now": scoring.top_reasons,
        "simulation": None
        if simulation is None
        else {
            "cutoff": simulation.cutoff.date().isoformat(),
            "people": simulation.people,
            "drifting": simulation.drifting,
            "visible": simulation.visible,
            "results": [dataclasses.asdict(row) for row in simulation.results],
            "risk_over_random": dataclasses.asdict(simulation.risk_over_random),
            "drivers": simulation.drivers,
        },
    }
    print(json.dumps(report, indent=2, default=str))


def _spent(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else now - before


def _server_clock(session: Session) -> Any:
    """A function giving the CPU seconds this session's PostgreSQL backend has used so far, read
    from /proc (the server runs on this machine); one giving None for SQLite or a remote one."""
    if session.get_bind().dialect.name != "postgresql":
        return lambda: None
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return lambda: None
    ticks = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    return used


if __name__ == "__main__":
    main()
