"""The dashboard reports and journeys on PostgreSQL and on local Spark over the lake, same demo.

    uv run python -m benchmarks.spark_analytics [--scale 0.05] [--master 'local[2]']
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_bench_spark_0_05]

The demo at ``--scale`` is generated into ``--database`` when that database is empty, its lake
written with ``--store-tables`` to a temporary folder, then each report runs three times per
engine in this process (the first run pays for compiling the expressions, and on Spark for
planning and loading the files; the median of the next two is the warm figure). Wall time,
this process's CPU seconds, and on Spark the JVM's CPU seconds too (the machine is shared:
CPU seconds are steadier than wall time). Spark's session start-up is reported apart.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cpxm.access import Principal, Role
from cpxm.analytics.coordination import CoordinationQuery, coordination_report
from cpxm.analytics.drivers import DriverQuery, key_drivers
from cpxm.analytics.journeys import JourneyQuery, journey_report, peak_end
from cpxm.analytics.metrics import MetricQuery, metric_report
from cpxm.analytics.service import workspace_overview
from cpxm.auth.service import create_user
from cpxm.db import make_engine
from cpxm.demo.service import generate_demo
from cpxm.interactions.models import Interaction
from cpxm.lake.export import export_lake
from cpxm.migrate import upgrade_database

REPORTS: list[tuple[str, Callable[[Session], Any]]] = [
    ("overview", workspace_overview),
    ("NPS by type", lambda s: metric_report(s, MetricQuery("nps", segment="stakeholder_type"))),
    ("CSAT by month", lambda s: metric_report(s, MetricQuery("csat", grain="month"))),
    ("CES by country", lambda s: metric_report(s, MetricQuery("ces", segment="country"))),
    ("drivers (HCP relationship)", lambda s: key_drivers(s, DriverQuery("hcp_relationship_nps"))),
    ("coordination and ping-pong", lambda s: coordination_report(s, CoordinationQuery())),
    ("journey (HCP engagement)", lambda s: journey_report(s, JourneyQuery("hcp_engagement"))),
    ("peak-end (HCP engagement)", lambda s: peak_end(s, JourneyQuery("hcp_engagement"))),
]  # fmt: skip


def _demo(url: str, scale: float) -> Engine:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            text("select 1 from pg_database where datname = :name"), {"name": parsed.database}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    engine = make_engine(url)
    upgrade_database(engine)
    with Session(engine) as session:
        have = session.scalar(select(func.count()).select_from(Interaction))
    if not have:
        print(f"generating the demo at scale {scale} into {parsed.database} ...")
        generate_demo(engine, scale=scale, seed=11)
    return engine


def _jvm_cpu(spark: Any) -> float:
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _time(
    engine: Engine, report: Callable[[Session], Any], spark: Any | None
) -> list[tuple[float, float, float]]:
    runs = []
    for _ in range(3):
        with Session(engine) as session:
            jvm = _jvm_cpu(spark) if spark is not None else 0.0
            wall, cpu = time.perf_counter(), time.process_time()
            report(session)
            runs.append(
                (
                    time.perf_counter() - wall,
                    time.process_time() - cpu,
                    (_jvm_cpu(spark) - jvm) if spark is not None else 0.0,
                )
            )
            session.rollback()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--database", default=None)
    arguments = parser.parse_args()
    url = arguments.database or (
        "postgresql+psycopg://postgres@127.0.0.1:5432/"
        f"cpxm_bench_spark_{str(arguments.scale).replace('.', '_')}"
    )
    engine = _demo(url, arguments.scale)
    with Session(engine) as session:
        interactions = session.scalar(select(func.count()).select_from(Interaction))
    lake = Path(tempfile.mkdtemp(prefix="cpxm-bench-lake-")) / "lake"
    with Session(engine) as session:
        user = create_user(session, email=f"b-{uuid.uuid4().hex[:6]}@bench.example", role="admin")
        principal = Principal(user.id, user.email, user.email, Role.ADMIN, "token")
        started = time.perf_counter()
        export_lake(session, target=lake, principal=principal, mirror=True)
        session.commit()
    print(f"{engine.url.database}: {interactions:,} interactions; lake written in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip

    os.environ.pop("CPXM_ANALYTICS_ENGINE", None)
    store = {name: _time(engine, report, None) for name, report in REPORTS}

    os.environ.update(
        CPXM_ANALYTICS_ENGINE="spark", CPXM_LAKE_PATH=str(lake), CPXM_SPARK_MASTER=arguments.master
    )
    from cpxm.spark import get_spark

    started = time.perf_counter()
    spark = get_spark()
    spark.sparkContext.setLogLevel("ERROR")
    print(f"Spark session ({arguments.master}) started in {time.perf_counter() - started:.1f} s")
    on_spark = {name: _time(engine, report, spark) for name, report in REPORTS}

    print(
        "| report | PostgreSQL first s | PostgreSQL warm s (CPU s) | Spark first s "
        "| Spark warm s | Spark warm CPU s (driver + JVM) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    totals = [0.0, 0.0, 0.0, 0.0]
    for name, _ in REPORTS:
        pg, sp = store[name], on_spark[name]
        pg_warm = statistics.median(run[0] for run in pg[1:])
        pg_cpu = statistics.median(run[1] for run in pg[1:])
        sp_warm = statistics.median(run[0] for run in sp[1:])
        sp_cpu = statistics.median(run[1] + run[2] for run in sp[1:])
        totals = [
            totals[0] + pg[0][0],
            totals[1] + pg_warm,
            totals[2] + sp[0][0],
            totals[3] + sp_warm,
        ]
        print(
            f"| {name} | {pg[0][0]:.2f} | {pg_warm:.2f} ({pg_cpu:.2f}) | {sp[0][0]:.1f} "
            f"| {sp_warm:.1f} | {sp_cpu:.1f} |"
        )
    print(f"| all | {totals[0]:.2f} | {totals[1]:.2f} | {totals[2]:.1f} | {totals[3]:.1f} | |")


if __name__ == "__main__":
    main()
