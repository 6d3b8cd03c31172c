"""Benchmark: generate and load the demo workspace, and compare with the raw bulk-insert limit.

    uv run python benchmarks/demo_load.py --scale 1
    uv run python benchmarks/demo_load.py --scale 1 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_bench

Reports wall time and peak RSS of generation + load into a fresh store, then re-inserts the
same interaction rows (the biggest table) into an empty twin of the table (same columns, foreign
keys and indexes) with the engine's raw bulk path: one ``executemany`` transaction on SQLite,
``COPY`` on PostgreSQL. The ratio of the demo's load rate to that limit is the headline number.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.sql.naming import conv

from cpxm.db import make_engine
from cpxm.demo.service import generate_demo
from cpxm.migrate import upgrade_database
from cpxm.schema import metadata

RAW_BATCH = 100_000


def fresh_store(url: str | None) -> tuple[Engine, str]:
    """A migrated, empty store; SQLite in a temporary file unless a URL is given."""
    if url is None:
        path = Path(tempfile.mkdtemp(prefix="cpxm-bench-")) / "demo.db"
        url = f"sqlite:///{path}"
    elif url.startswith("postgresql"):
        parsed = make_url(url)
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    engine = make_engine(url)
    upgrade_database(
        engine
    )  # a new file or a recreated database: empty but for what migrations seed
    return engine, url


def twin_of(table: Table) -> Table:
    """An empty copy of ``table`` with its foreign keys, checks and indexes."""
    name = f"{table.name}_raw_bench"
    twin = table.to_metadata(metadata, name=name)
    # Constraint and index names are global in PostgreSQL (indexes in SQLite too): rename them.
    for index in twin.indexes:
        index.name = conv(str(index.name).replace(table.name, name))
    for constraint in twin.constraints:
        if constraint.name:
            constraint.name = conv(str(constraint.name).replace(table.name, name))
    return twin


class RawInsert(NamedTuple):
    seconds: float  # the inserts and the commit that makes them durable
    rows: int
    cpu_seconds: float  # what ``cpu_clock`` counted during them (0 without one)
    commit_seconds: float  # of ``seconds``: the commit alone


def raw_insert_seconds(
    engine: Engine, table_name: str, cpu_clock: Callable[[], float] | None = None
) -> RawInsert:
    """Time the raw bulk insert of ``table_name``'s rows into its twin, in one transaction.

    The limit is the database's own bulk path fed with rows already in its format, so nothing
    of the client's conversion is timed: on SQLite, ``executemany`` of the tuples the driver
    read (dates and times are text there); on PostgreSQL, ``COPY ... FROM STDIN`` in the binary
    format of what ``COPY ... TO STDOUT`` wrote. The commit is timed with the inserts: SQLite
    writes the pages a transaction dirtied when it commits (those its page cache still holds),
    so rows not yet committed are not yet stored, and an import's own commits are part of its
    time.
    """
    source = metadata.tables[table_name]
    twin = twin_of(source)
    twin.drop(engine, checkfirst=True)
    twin.create(engine)
    seconds = 0.0
    cpu_seconds = 0.0
    rows = 0
    commit_seconds = 0.0
    columns = ", ".join(f'"{column.name}"' for column in source.columns)
    try:
        # The reader only reads: on SQLite it must not take the write lock the writer needs
        # (cpxm.db begins SQLite transactions IMMEDIATE unless told otherwise).
        reading = engine.connect().execution_options(cpxm_sqlite_begin="DEFERRED")
        with reading as reader, engine.connect() as writer:
            transaction = writer.begin()
            for payload, count in _stored_batches(reader, source.name, columns):
                cpu_started = cpu_clock() if cpu_clock else 0.0
                started = time.perf_counter()
                _insert_stored(writer, twin.name, columns, payload)
                seconds += time.perf_counter() - started
                cpu_seconds += (cpu_clock() - cpu_started) if cpu_clock else 0.0
                rows += count
            cpu_started = cpu_clock() if cpu_clock else 0.0
            started = time.perf_counter()
            transaction.commit()
            commit_seconds = time.perf_counter() - started
            seconds += commit_seconds
            cpu_seconds += (cpu_clock() - cpu_started) if cpu_clock else 0.0
    finally:
        twin.drop(engine)
        metadata.remove(twin)
    return RawInsert(seconds, rows, cpu_seconds, commit_seconds)


def _stored_batches(reader: Connection, table: str, columns: str) -> Iterator[tuple[Any, int]]:
    """``table``'s rows by id, RAW_BATCH at a time, as the engine stores or copies them."""
    last_id = 0
    while True:
        ids = reader.execute(
            text(
                f'SELECT count(*), max(id) FROM (SELECT id FROM "{table}" WHERE id > :last '  # noqa: S608
                "ORDER BY id LIMIT :n) batch"
            ),
            {"last": last_id, "n": RAW_BATCH},
        ).one()
        count, highest = int(ids[0]), ids[1]
        if not count:
            return
        selected = f'SELECT {columns} FROM "{table}" WHERE id > {last_id} AND id <= {highest}'  # noqa: S608
        if reader.dialect.name == "postgresql":
            raw = reader.connection.driver_connection
            assert raw is not None
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY ({selected} ORDER BY id) TO STDOUT (FORMAT binary)") as copy,
            ):
                yield b"".join(bytes(chunk) for chunk in copy), count
        else:
            yield [tuple(row) for row in reader.exec_driver_sql(selected)], count
        last_id = int(highest)


def _insert_stored(writer: Connection, twin: str, columns: str, payload: Any) -> None:
    if writer.dialect.name == "postgresql":
        raw = writer.connection.driver_connection
        assert raw is not None
        statement = f'COPY "{twin}" ({columns}) FROM STDIN (FORMAT binary)'
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(payload)
        return
    placeholders = ", ".join("?" for _ in columns.split(", "))
    writer.exec_driver_sql(
        f'INSERT INTO "{twin}" ({columns}) VALUES ({placeholders})',  # noqa: S608
        payload,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--database-url",
        default=None,
        help="store to (re)create; default: a SQLite file in a temporary directory. "
        "A PostgreSQL database named here is dropped and created.",
    )
    args = parser.parse_args(argv)

    engine, url = fresh_store(args.database_url)
    started = time.perf_counter()
    summary = generate_demo(engine, scale=args.scale, seed=args.seed)
    wall = time.perf_counter() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total_rows = sum(summary.counts.values())
    interactions = summary.counts["interactions"]
    load_seconds = summary.load_seconds["interactions"]
    raw_seconds, raw_rows, _, _ = raw_insert_seconds(engine, "interactions")
    assert raw_rows == interactions, (raw_rows, interactions)

    demo_rate = interactions / load_seconds
    raw_rate = raw_rows / raw_seconds
    end_to_end_rate = interactions / wall
    print(f"engine:                 {engine.dialect.name} ({make_url(url).render_as_string()})")
    print(f"scale / seed:           {args.scale} / {args.seed}")
    print(f"generate + load:        {wall:.1f} s wall, peak RSS {peak_rss_mb:.0f} MB")
    print(f"rows loaded:            {total_rows:,} ({total_rows / wall:,.0f} rows/s end to end)")
    print(f"interactions:           {interactions:,}")
    print(f"  demo load rate:       {demo_rate:,.0f} rows/s ({load_seconds:.1f} s in bulk inserts)")
    print(f"  raw bulk-insert rate: {raw_rate:,.0f} rows/s ({raw_seconds:.1f} s)")
    print(f"  load / raw:           {demo_rate / raw_rate:.2f}")
    print(f"  end-to-end / raw:     {end_to_end_rate / raw_rate:.2f} (interactions / wall time)")
    print(
        f"  all rows / raw:       {total_rows / wall / raw_rate:.2f} (all tables, with generation)"
    )
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
