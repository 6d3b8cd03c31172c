"""Benchmark: import interaction rows from CSV, JSON Lines or Parquet with `cpxm import`, against
the raw bulk-insert limit of the same database on the same rows.

    uv run python -m benchmarks.import_load --rows 1000000
    uv run python -m benchmarks.import_load --rows 1000000 --format jsonl   # or parquet
    uv run python -m benchmarks.import_load --rows 1000000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_bench_import

A fresh store gets a small taxonomy and 20,000 CRM accounts (imported through the stakeholders
target), then a CSV of ROWS call reports (semicolon-delimited, day-first dates, value-mapped
channels: the shape of a real CRM export) is imported end to end: read, validate, resolve the
account reference, write, ledger. The same interaction rows are then re-inserted into an empty
twin of the table with the engine's raw bulk path, fed rows already in its format (one
``executemany`` transaction on SQLite, binary ``COPY`` on PostgreSQL), timing the inserts and
their commit (``benchmarks.demo_load.raw_insert_seconds``). Target: import within 2x of that
limit.

Both are also given in CPU seconds (this process, plus the PostgreSQL server's processes for
this database when the server runs on this machine: ``benchmarks/cpu.py``), which a busy shared
machine disturbs far less than wall time. The JSON Lines and Parquet files hold the CSV's rows,
every value a string, as an export of the same system in those formats would.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from benchmarks.cpu import store_cpu_seconds
from benchmarks.demo_load import fresh_store, raw_insert_seconds
from cpxm.ingest import BATCH_SIZE
from cpxm.ingest.mapping import parse_mapping
from cpxm.ingest.service import import_file
from cpxm.workspace.models import Channel, Country, Department

ACCOUNTS = 20_000
CHANNELS = {"F2F": "face_to_face", "Tel": "phone", "Email": "email", "Video": "remote_detailing"}
DEPARTMENTS = ("field_sales", "medical_affairs", "marketing")

ACCOUNTS_MAPPING = {
    "name": "bench-accounts",
    "source_system": "crm",
    "target": "stakeholders",
    "source_id": "account_id",
    "fields": {
        "type": {"value": "hcp"},
        "first_name": "first_name",
        "last_name": "last_name",
        "country": "country",
    },
}
CALLS_MAPPING = {
    "name": "bench-calls",
    "source_system": "crm",
    "target": "interactions",
    "source_id": "call_id",
    "fields": {
        "stakeholder": "account_id",
        "occurred_at": {"column": "call_date", "date_format": "%d.%m.%Y %H:%M"},
        "channel": {"column": "channel", "values": CHANNELS},
        "department": "department",
        "interaction_type": {"value": "call"},
        "direction": {"value": "outbound"},
        "notes": "notes",
    },
}


def write_files(directory: Path, rows: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    accounts = directory / "accounts.csv"
    with accounts.open("w", encoding="utf-8") as stream:
        stream.write("account_id;first_name;last_name;country\n")
        for number in range(ACCOUNTS):
            stream.write(f"A{number:06d};First{number};Last{number};DE\n")
    calls = directory / "calls.csv"
    start = datetime(2024, 1, 1)
    channels = list(CHANNELS)
    with calls.open("w", encoding="utf-8") as stream:
        stream.write("call_id;account_id;call_date;channel;department;notes\n")
        for number in range(rows):
            when = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 540))
            stream.write(
                f"C{number:08d};A{rng.randrange(ACCOUNTS):06d};{when:%d.%m.%Y %H:%M};"
                f"{rng.choice(channels)};{rng.choice(DEPARTMENTS)};"
                f"Discussed dosing and access, follow-up {number % 7} weeks\n"
            )
    return accounts, calls


def in_format(calls: Path, file_format: str) -> Path:
    """The CSV's rows as JSON Lines or Parquet (every value a string), or the CSV itself."""
    if file_format == "csv":
        return calls
    with calls.open(encoding="utf-8") as stream:
        header = stream.readline().rstrip("\n").split(";")
        rows = [line.rstrip("\n").split(";") for line in stream]
    path = calls.with_suffix(f".{file_format}")
    if file_format == "jsonl":
        with path.open("w", encoding="utf-8") as stream:
            for row in rows:
                stream.write(json.dumps(dict(zip(header, row, strict=True))) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {
            name: pa.array([row[index] for row in rows]) for index, name in enumerate(header)
        }
        pq.write_table(pa.table(columns), path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="default: cpxm import's")
    parser.add_argument("--format", choices=("csv", "jsonl", "parquet"), default="csv")
    parser.add_argument(
        "--database-url",
        default=None,
        help="store to (re)create; default: a SQLite file in a temporary directory. "
        "A PostgreSQL database named here is dropped and created.",
    )
    args = parser.parse_args(argv)

    engine, url = fresh_store(args.database_url)
    with Session(engine) as session:
        session.add(Country(code="DE", name="Germany", default_language="de"))
        session.add_all(Channel(code=code, name=code, kind="remote") for code in CHANNELS.values())
        session.add_all(Department(code=code, name=code) for code in DEPARTMENTS)
        session.commit()
    directory = Path(tempfile.mkdtemp(prefix="cpxm-import-bench-"))
    accounts_csv, calls_csv = write_files(directory, args.rows, args.seed)
    calls_csv = in_format(calls_csv, args.format)
    import_file(engine, path=accounts_csv, mapping=parse_mapping(ACCOUNTS_MAPPING))

    cpu_started = store_cpu_seconds(engine)
    started = time.perf_counter()
    report = import_file(
        engine,
        path=calls_csv,
        mapping=parse_mapping(CALLS_MAPPING),
        batch_size=args.batch_size,
    )
    import_seconds = time.perf_counter() - started
    import_cpu = store_cpu_seconds(engine) - cpu_started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert report.created == args.rows and report.quarantined == 0, report

    started = time.perf_counter()
    again = import_file(engine, path=calls_csv, mapping=parse_mapping(CALLS_MAPPING))
    reimport_seconds = time.perf_counter() - started
    assert again.unchanged == args.rows, again

    raw_seconds, raw_rows, raw_cpu, raw_commit = raw_insert_seconds(
        engine, "interactions", lambda: store_cpu_seconds(engine)
    )
    assert raw_rows == args.rows
    import_rate = args.rows / import_seconds
    raw_rate = raw_rows / raw_seconds
    print(f"engine:              {engine.dialect.name} ({make_url(url).render_as_string()})")
    size_mb = calls_csv.stat().st_size / 1e6
    shown = {"csv": "CSV", "jsonl": "JSON Lines", "parquet": "Parquet"}[args.format]
    print(f"rows:                {args.rows:,} interactions from {shown} ({size_mb:.0f} MB)")
    print(f"import:              {import_seconds:.1f} s, {import_rate:,.0f} rows/s")
    print(f"peak RSS:            {peak_rss_mb:.0f} MB")
    print(
        f"re-import unchanged: {reimport_seconds:.1f} s, {args.rows / reimport_seconds:,.0f} rows/s"
    )
    print(
        f"raw bulk insert:     {raw_seconds:.1f} s, {raw_rate:,.0f} rows/s"
        f" (of which the commit {raw_commit:.1f} s)"
    )
    print(f"import / raw time:   {import_seconds / raw_seconds:.2f}x (target <= 2x)")
    where = "this process" if engine.dialect.name == "sqlite" else "this process + server"
    print(
        f"CPU seconds ({where}): import {import_cpu:.1f}, raw {raw_cpu:.1f}, "
        f"import / raw {import_cpu / raw_cpu:.2f}x"
    )
    print(f"batch size:          {args.batch_size:,} rows per commit")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
