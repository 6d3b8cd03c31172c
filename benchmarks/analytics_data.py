"""Copy a demo store from SQLite to PostgreSQL or DuckDB, for the analytics benchmark.

Generating ``--scale 10`` takes minutes; the benchmark generates it once into a SQLite file under
/tmp, then copies it (COPY on PostgreSQL, DuckDB's sqlite scanner for DuckDB), so all three
engines answer over the same rows. Only columns present in both stores are copied, so a copy
still works while the schema grows. Summaries the store's triggers keep
(``interaction_daily_counts``) are not copied: the triggers fill them as the source rows arrive.

    uv run python benchmarks/analytics_data.py SQLITE_PATH POSTGRES_URL
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from cpxm.db import make_engine
from cpxm.migrate import upgrade_database
from cpxm.schema import metadata

BATCH = 50_000
TRIGGER_MAINTAINED = {"interaction_daily_counts"}


def recreate_postgres_database(url: str) -> Engine:
    """Drop and create the database ``url`` names, migrated to the current schema."""
    target = make_url(url)
    admin = make_engine(
        target.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = make_engine(url)
    upgrade_database(engine)
    return engine


def copy_sqlite_to_postgres(sqlite_path: Path, postgres: Engine) -> dict[str, int]:
    """Copy every table's rows (shared columns only), then analyse, so plans see real sizes."""
    source = sqlite3.connect(sqlite_path)
    counts: dict[str, int] = {}
    inspector = inspect(postgres)
    existing = set(inspector.get_table_names())
    target_columns = {
        name: {column["name"] for column in inspector.get_columns(name)}
        for name in metadata.tables
        if name in existing
    }
    with postgres.begin() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        for table in metadata.sorted_tables:
            present = [row[1] for row in source.execute(f'PRAGMA table_info("{table.name}")')]
            if not present or table.name not in target_columns or table.name in TRIGGER_MAINTAINED:
                continue
            columns = [
                column.name
                for column in table.columns
                if column.name in present and column.name in target_columns[table.name]
            ]
            column_list = ", ".join(f'"{name}"' for name in columns)
            cursor = source.execute(f'SELECT {column_list} FROM "{table.name}"')  # noqa: S608
            total = 0
            try:
                # A savepoint per table: a table the current schema cannot take (say a new NOT
                # NULL column) is skipped and named; the others still load. Rows a migration
                # seeded are replaced by the source's.
                with raw.transaction(), raw.cursor() as target:
                    target.execute(f'DELETE FROM "{table.name}"')  # noqa: S608
                    with target.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy:
                        while batch := cursor.fetchmany(BATCH):
                            for row in batch:
                                copy.write_row(row)
                            total += len(batch)
            except psycopg.Error as error:
                print(f"skipped {table.name}: {str(error).splitlines()[0]}", file=sys.stderr)
                continue
            counts[table.name] = total
        for table in metadata.sorted_tables:
            id_column = table.columns.get("id")
            if id_column is not None and id_column.primary_key and counts.get(table.name):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                        f'MAX(id)) FROM "{table.name}"'
                    )
                )
    with postgres.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return counts


def main() -> None:
    sqlite_path, postgres_url = Path(sys.argv[1]), sys.argv[2]
    started = time.perf_counter()
    engine = recreate_postgres_database(postgres_url)
    counts = copy_sqlite_to_postgres(sqlite_path, engine)
    engine.dispose()
    print(f"copied {sum(counts.values()):,} rows in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
