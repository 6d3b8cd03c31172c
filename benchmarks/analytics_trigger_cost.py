"""What the interaction-summary triggers cost writers: the demo generated with and without them.

    uv run python -m benchmarks.analytics_trigger_cost [--scale 0.5] [--repeats 2]
        [--database-url sqlite:///$TMPDIR/cpxm-trigger-cost.db]

Each repeat generates the demo into a fresh store twice, once as migrated (triggers on) and once
with the triggers dropped, and reports the whole generation's wall time and the time spent
inserting interactions. A PostgreSQL URL names a database that is dropped and recreated.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from benchmarks.analytics_data import recreate_postgres_database
from cpxm.db import make_engine
from cpxm.demo.service import generate_demo
from cpxm.migrate import upgrade_database

TRIGGERS = ("insert", "update", "delete")


def fresh_store(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return recreate_postgres_database(url)
    path = Path(parsed.database or "")
    path.unlink(missing_ok=True)
    engine = make_engine(url)
    upgrade_database(engine)
    return engine


def drop_triggers(engine: Engine) -> None:
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        for name in (*TRIGGERS, "truncate") if postgres else TRIGGERS:
            suffix = " ON interactions" if postgres else ""
            connection.execute(text(f"DROP TRIGGER interaction_daily_counts_{name}{suffix}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--database-url",
        default=f"sqlite:///{Path(tempfile.gettempdir()) / 'cpxm-trigger-cost.db'}",
    )
    arguments = parser.parse_args()
    print("| triggers | wall (generate + load) | inserting interactions | interactions |")
    print("| --- | ---: | ---: | ---: |")
    for _ in range(arguments.repeats):
        for triggers in (True, False):
            engine = fresh_store(arguments.database_url)
            if not triggers:
                drop_triggers(engine)
            started = time.perf_counter()
            summary = generate_demo(engine, scale=arguments.scale, seed=42)
            wall = time.perf_counter() - started
            engine.dispose()
            print(
                f"| {'on' if triggers else 'off'} | {wall:.1f} s | "
                f"{summary.load_seconds['interactions']:.1f} s | "
                f"{summary.counts['interactions']:,} |"
            )


if __name__ == "__main__":
    main()
