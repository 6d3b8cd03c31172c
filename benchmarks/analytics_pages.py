"""Server time of the overview, segment and trend pages at demo scale 10, on SQLite and
PostgreSQL, against the same aggregations hand-written in DuckDB SQL over the same rows.

    uv run python -m benchmarks.analytics_pages [--runs 10] [--scale 10]
        [--sqlite $TMPDIR/cpxm-bench-analytics.db]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_bench_analytics]

The demo is generated once into the SQLite file (minutes at scale 10; reused when present) and
copied to PostgreSQL when that database is missing or holds other counts. Each page is asked
``--runs`` times in-process (TestClient: routing, access, queries, charts and template; no
network), cold (every report cache emptied first: the cost after new data arrives) and warm
(cached: the cost of a repeat view). DuckDB runs the pages' aggregations as hand-written SQL on
in-memory copies of the same tables: the engine limit the ratio is taken against. The overview
reads interactions from the summary the store's triggers keep; DuckDB groups the raw rows.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from benchmarks.analytics_data import copy_sqlite_to_postgres, recreate_postgres_database
from cpxm.access import ALL_POLICIES, Principal, Role
from cpxm.analytics.summaries import refresh_planner_statistics
from cpxm.app import create_app
from cpxm.db import make_engine
from cpxm.demo.service import generate_demo
from cpxm.interactions.models import Interaction
from cpxm.migrate import upgrade_database
from cpxm.surveys.models import Response

PAGES = {
    "overview": "/",
    "segment": "/analytics/metrics?metric=nps&segment=country",
    "trend": "/analytics/metrics?metric=nps&grain=month",
}

# The same aggregations, hand-written for DuckDB.
DUCKDB_SQL = {
    "overview": [
        "SELECT type, count(*) FROM stakeholders GROUP BY type",
        "SELECT date_trunc('month', occurred_at), channel_code, department_code, count(*) "
        "FROM interactions GROUP BY ALL",
        "SELECT q.question_type, coalesce(s.type, 'unknown'), a.value_number, count(*) "
        "FROM answers a JOIN questions q ON q.id = a.question_id "
        "JOIN responses r ON r.id = a.response_id "
        "LEFT JOIN stakeholders s ON s.id = r.stakeholder_id "
        "WHERE q.question_type IN ('nps', 'csat', 'ces') AND r.status = 'complete' "
        "AND a.value_number IS NOT NULL GROUP BY ALL",
        "SELECT count(*) FROM responses WHERE status = 'complete'",
    ],
    "segment": [
        "SELECT coalesce(s.country_code, '(none)'), count(*), sum(a.value_number), "
        "sum(a.value_number * a.value_number), "
        "sum(CASE WHEN a.value_number >= 9 THEN 1 ELSE 0 END), "
        "sum(CASE WHEN a.value_number <= 6 THEN 1 ELSE 0 END) "
        "FROM answers a JOIN questions q ON q.id = a.question_id "
        "JOIN responses r ON r.id = a.response_id "
        "LEFT JOIN stakeholders s ON s.id = r.stakeholder_id "
        "WHERE q.question_type = 'nps' AND r.status = 'complete' "
        "AND a.value_number BETWEEN 0 AND 10 "
        "AND r.survey_id NOT IN (SELECT id FROM surveys WHERE kind = 'employee_pulse') "
        "GROUP BY ALL",
        "SELECT coalesce(s.country_code, '(none)'), count(*), count(r.id) "
        "FROM invitations i LEFT JOIN responses r ON r.invitation_id = i.id "
        "AND r.status = 'complete' LEFT JOIN stakeholders s ON s.id = i.stakeholder_id "
        "WHERE i.sent_at IS NOT NULL AND i.survey_id IN (SELECT survey_id FROM questions "
        "WHERE question_type = 'nps' AND survey_id NOT IN "
        "(SELECT id FROM surveys WHERE kind = 'employee_pulse')) GROUP BY ALL",
    ],
    "trend": [
        "SELECT date_trunc('month', coalesce(r.submitted_at, r.started_at)), count(*), "
        "sum(a.value_number), sum(a.value_number * a.value_number), "
        "sum(CASE WHEN a.value_number >= 9 THEN 1 ELSE 0 END), "
        "sum(CASE WHEN a.value_number <= 6 THEN 1 ELSE 0 END) "
        "FROM answers a JOIN questions q ON q.id = a.question_id "
        "JOIN responses r ON r.id = a.response_id "
        "WHERE q.question_type = 'nps' AND r.status = 'complete' "
        "AND a.value_number BETWEEN 0 AND 10 "
        "AND r.survey_id NOT IN (SELECT id FROM surveys WHERE kind = 'employee_pulse') "
        "GROUP BY ALL",
        "SELECT count(*), count(r.id) FROM invitations i LEFT JOIN responses r "
        "ON r.invitation_id = i.id AND r.status = 'complete' "
        "WHERE i.sent_at IS NOT NULL AND i.survey_id IN (SELECT survey_id FROM questions "
        "WHERE question_type = 'nps' AND survey_id NOT IN "
        "(SELECT id FROM surveys WHERE kind = 'employee_pulse'))",
    ],
}
DUCKDB_TABLES = {
    "stakeholders": "id, type, country_code",
    "interactions": "id, occurred_at, channel_code, department_code",
    "answers": "id, response_id, question_id, value_number",
    "questions": "id, survey_id, question_type",
    "responses": "id, survey_id, invitation_id, stakeholder_id, status, started_at, submitted_at",
    "surveys": "id, kind",
    "invitations": "id, survey_id, stakeholder_id, sent_at",
}
TIMESTAMPS = {"occurred_at", "started_at", "submitted_at", "sent_at"}


def counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        responses = session.scalar(select(func.count()).select_from(Response)) or 0
        interactions = session.scalar(select(func.count()).select_from(Interaction)) or 0
    return int(responses), int(interactions)


def prepare_sqlite(path: Path, scale: float) -> Engine:
    """The demo store in ``path``, generated when missing, migrated to the current schema (a
    new summary is backfilled) and analysed, as after any bulk load."""
    generate = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    if generate:
        started = time.perf_counter()
        generate_demo(engine, scale=scale, seed=42)
        print(f"generated scale {scale} in {time.perf_counter() - started:.0f} s")
    with Session(engine) as session:
        refresh_planner_statistics(session)
        session.commit()
    return engine


def prepare_postgres(url: str, sqlite_path: Path, expected: tuple[int, int]) -> Engine:
    try:
        engine = make_engine(url)
        if counts(engine) == expected:
            upgrade_database(engine)  # a copy made before the latest migrations gets them
            return engine
        engine.dispose()
    except OperationalError:
        pass
    started = time.perf_counter()
    engine = recreate_postgres_database(url)
    copy_sqlite_to_postgres(sqlite_path, engine)
    print(f"copied to PostgreSQL in {time.perf_counter() - started:.0f} s")
    return engine


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def time_runs(runs: int, call: Callable[[], Any]) -> list[float]:
    call()  # warm-up: imports, compiled templates, the chart specs' Altair templates
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append(1000 * (time.perf_counter() - started))
    return timings


def page_timings(engine: Engine, runs: int) -> dict[str, dict[str, list[float]]]:
    app = create_app(engine)
    admin = Principal(user_id=0, email="bench@localhost", display_name="Benchmark",
                      role=Role.ADMIN, method="token")  # fmt: skip
    for policy in ALL_POLICIES:  # access is not what is measured
        app.dependency_overrides[policy] = lambda: admin
    results: dict[str, dict[str, list[float]]] = {}
    with TestClient(app) as client:
        for name, path in PAGES.items():

            def cold(path: str = path) -> None:
                app.state.overview_cache._cached = None
                if getattr(app.state, "report_cache", None) is not None:
                    app.state.report_cache.clear()
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            def warm(path: str = path) -> None:
                assert client.get(path).status_code == 200

            results[name] = {"cold": time_runs(runs, cold), "warm": time_runs(runs, warm)}
    return results


def duckdb_timings(sqlite_path: Path, runs: int) -> dict[str, list[float]]:
    source = sqlite3.connect(sqlite_path)
    database = duckdb.connect()
    for name, columns in DUCKDB_TABLES.items():
        rows = source.execute(f"SELECT {columns} FROM {name}").fetchall()  # noqa: S608
        names = [column.strip() for column in columns.split(",")]
        arrays = {
            column: pa.array([row[index] for row in rows]) for index, column in enumerate(names)
        }
        database.register(f"{name}_arrow", pa.table(arrays))
        casts = ", ".join(
            f"CAST({column} AS TIMESTAMP) AS {column}" if column in TIMESTAMPS else column
            for column in names
        )
        database.execute(f"CREATE TABLE {name} AS SELECT {casts} FROM {name}_arrow")  # noqa: S608
        database.unregister(f"{name}_arrow")
    results = {}
    for page, statements in DUCKDB_SQL.items():

        def run(statements: list[str] = statements) -> None:
            for statement in statements:
                database.execute(statement).fetchall()

        results[page] = time_runs(runs, run)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument(
        "--sqlite", type=Path, default=Path(tempfile.gettempdir()) / "cpxm-bench-analytics.db"
    )
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_bench_analytics"
    )
    arguments = parser.parse_args()
    sqlite_engine = prepare_sqlite(arguments.sqlite, arguments.scale)
    expected = counts(sqlite_engine)
    print(f"{expected[0]:,} responses, {expected[1]:,} interactions")
    postgres_engine = prepare_postgres(arguments.postgres, arguments.sqlite, expected)
    with postgres_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    reference = duckdb_timings(arguments.sqlite, arguments.runs)
    measured = {
        "SQLite": page_timings(sqlite_engine, arguments.runs),
        "PostgreSQL": page_timings(postgres_engine, arguments.runs),
    }
    database = make_url(arguments.postgres).database
    print(f"\nruns per figure: {arguments.runs}; PostgreSQL database {database}")
    print("| page | DuckDB p95 | engine | cold p50 | cold p95 | cold p95 / DuckDB | warm p95 |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for page in PAGES:
        duck = percentile(reference[page], 0.95)
        for engine_name, results in measured.items():
            cold, warm = results[page]["cold"], results[page]["warm"]
            print(
                f"| {page} | {duck:.0f} ms | {engine_name} | {statistics.median(cold):.0f} ms | "
                f"{percentile(cold, 0.95):.0f} ms | {percentile(cold, 0.95) / duck:.1f}x | "
                f"{percentile(warm, 0.95):.0f} ms |"
            )


if __name__ == "__main__":
    main()
