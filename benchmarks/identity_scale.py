"""Benchmark: identity resolution of a million source records on this machine.

    uv run python benchmarks/identity_scale.py --records 1000000
    uv run python benchmarks/identity_scale.py --records 100000 --seed 7
    uv run python benchmarks/identity_scale.py --records 100000 --store /tmp/scale-100k.db
    uv run python benchmarks/identity_scale.py --store /tmp/scale-1m.db --engine spark

Generates people with Faker name, street and city pools of six locales (drawn with NumPy, so a
million records take a minute, not an hour of Faker calls) and records them in six departmental
systems, each with its own fields and the variation real exports carry: nicknames, typing
slips, initials, swapped name order, dropped accents, a second e-mail address, other phone
formats, moved addresses, missing values and duplicates within one system. The records go
into a fresh SQLite store with the Core bulk insert the demo and the importer use
(``cpxm.db.bulk_insert``), in the importer's attribute shape and without a stakeholder, as
``cpxm import`` followed by an empty identity table would leave them.

Then, in a fresh process so the peak memory is the resolve's own, ``resolve`` runs: wall time,
peak RSS, pairs scored, golden records, and precision / recall / F1 over all pairs of records
against the generated truth.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT")
SYSTEMS = {
    # system: (chance a person is in it, fields it keeps)
    "crm": (0.55, ("name", "email", "phone", "address", "professional_id")),
    "events": (0.30, ("name", "email", "city")),
    "email_platform": (0.45, ("name", "email")),
    "call_centre": (0.25, ("name", "phone", "postcode", "dob")),
    "patient_support": (0.20, ("name", "dob", "phone", "email", "address")),
    "medical_information": (0.20, ("name", "phone", "email")),
}
NICKNAMES = {
    "William": "Bill",
    "Robert": "Bob",
    "Elizabeth": "Liz",
    "Michael": "Mike",
    "James": "Jim",
    "Thomas": "Tom",
    "Christopher": "Chris",
    "Daniel": "Dan",
    "Joseph": "Joe",
    "Alexander": "Alex",
    "Anthony": "Tony",
    "Nicholas": "Nick",
    "Katherine": "Kate",
    "Margaret": "Maggie",
    "Richard": "Rick",
    "Jennifer": "Jen",
}


def _pools(seed: int) -> list[dict[str, list[Any]]]:
    from faker import Faker

    pools: list[dict[str, list[Any]]] = []
    for index, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 100 + index)
        places = [(fake.city(), fake.postcode()) for _ in range(3_000)]
        pools.append(
            {
                "first": sorted({fake.first_name() for _ in range(4_000)}),
                "last": sorted({fake.last_name() for _ in range(8_000)}),
                "places": places,
                "streets": [fake.street_address().replace("\n", ", ") for _ in range(20_000)],
            }
        )
    return pools


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _slug(text: str) -> str:
    return "".join(ch for ch in _plain(text).lower() if ch.isascii() and ch.isalnum())


def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 4:
        return text
    at = int(rng.integers(1, len(text) - 1))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return text[:at] + text[at + 1] + text[at] + text[at + 2 :]
    if kind == 1:
        return text[:at] + text[at + 1 :]
    return text[:at] + text[at] + text[at:]


def generate(records: int, seed: int) -> tuple[list[tuple[str, str, dict[str, Any]]], list[int]]:
    """Source records (system, source id, attributes) and the person behind each."""
    rng = np.random.default_rng(seed)
    pools = _pools(seed)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    truth: list[int] = []
    person = 0
    while len(rows) < records:
        person += 1
        pool = pools[int(rng.integers(0, len(pools)))]
        first = pool["first"][int(rng.integers(0, len(pool["first"])))]
        last = pool["last"][int(rng.integers(0, len(pool["last"])))]
        city, postcode = pool["places"][int(rng.integers(0, len(pool["places"])))]
        street = pool["streets"][int(rng.integers(0, len(pool["streets"])))]
        draws = rng.random(12)
        number = int(rng.integers(1, 100))
        email = (
            f"{_slug(first)}.{_slug(last)}{number}@{('example.com', 'example.net')[number % 2]}"
            if draws[0] < 0.8
            else None
        )
        phone = "".join(str(d) for d in rng.integers(0, 10, size=10))
        dob = (
            f"{int(rng.integers(1930, 2004))}-{int(rng.integers(1, 13)):02d}"
            f"-{int(rng.integers(1, 29)):02d}"
            if draws[1] < 0.6
            else None
        )
        professional_id = str(int(rng.integers(1_000_000_000, 2_000_000_000)))
        is_hcp = draws[2] < 0.5
        systems = [
            s
            for s, (chance, _) in SYSTEMS.items()
            # A newsletter platform holds subscribers by their e-mail address.
            if rng.random() < chance and (email or s != "email_platform")
        ] or ["crm"]
        for system in systems:
            copies = 2 if rng.random() < 0.04 else 1
            for _ in range(copies):
                attributes = _record(
                    rng,
                    SYSTEMS[system][1],
                    first=first,
                    last=last,
                    email=email,
                    phone=phone,
                    dob=dob,
                    street=street,
                    postcode=postcode,
                    city=city,
                    professional_id=professional_id if is_hcp else None,
                )
                rows.append((system, f"{system}-{len(rows) + 1}", attributes))
                truth.append(person)
    return rows[:records], truth[:records]


def _record(
    rng: np.random.Generator, fields: tuple[str, ...], **person: str | None
) -> dict[str, Any]:
    draws = rng.random(16)
    first, last = person["first"] or "", person["last"] or ""
    if draws[0] < 0.3 and first in NICKNAMES:
        first = NICKNAMES[first]
    if draws[1] < 0.05:
        last = _typo(rng, last)
    elif draws[2] < 0.04:
        first = _typo(rng, first)
    if draws[3] < 0.2:
        first, last = _plain(first), _plain(last)
    if draws[4] < 0.03:
        first, last = last, first
    if draws[5] < 0.04:
        first = first[:1]
    attributes: dict[str, Any] = {"type": "hcp" if person["professional_id"] else "patient"}
    attributes |= {"first_name": first, "last_name": last}
    if "email" in fields and person["email"] and (draws[6] < 0.8 or fields == ("name", "email")):
        # Some people give another address to another system.
        attributes["email"] = (
            person["email"] if draws[7] < 0.92 else f"{_slug(first)}@{_slug(last)}-mail.example.org"
        )
    if "phone" in fields and draws[8] < 0.85:
        phone = person["phone"] or ""
        attributes["phone"] = (
            f"+1 {phone[:3]} {phone[3:6]} {phone[6:]}" if draws[9] < 0.5 else phone
        )
    if "dob" in fields and person["dob"] and draws[10] < 0.7:
        attributes["birth_date"] = person["dob"]
    moved = draws[11] < 0.05
    if "address" in fields and not moved:
        attributes |= {
            "address_line": person["street"] if draws[12] < 0.9 else None,
            "postal_code": person["postcode"],
            "city": person["city"],
        }
    if "postcode" in fields and not moved and draws[13] < 0.7:
        attributes["postal_code"] = person["postcode"]
    if "city" in fields and draws[14] < 0.8:
        attributes["city"] = person["city"]
    if "professional_id" in fields and person["professional_id"] and draws[15] < 0.85:
        attributes["professional_id"] = person["professional_id"]
    return {key: value for key, value in attributes.items() if value is not None}


def load(path: Path, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    from cpxm.db import Base, bulk_insert, make_engine
    from cpxm.migrate import upgrade_database

    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    table = Base.metadata.tables["source_records"]
    with engine.begin() as connection:
        for start in range(0, len(rows), 50_000):
            batch = [
                (start + offset + 1, system, source_id, attributes)
                for offset, (system, source_id, attributes) in enumerate(
                    rows[start : start + 50_000]
                )
            ]
            bulk_insert(
                connection, table, batch, ["id", "source_system", "source_id", "attributes"]
            )
    engine.dispose()


def resolve_side(path: Path, engine_name: str = "duckdb") -> None:
    """In its own process: resolve the store and score it against the truth file."""
    from sqlalchemy import select

    from cpxm.db import make_engine, session_factory
    from cpxm.identity.models import SourceRecord
    from cpxm.identity.service import resolve

    truth = np.load(path.with_suffix(".truth.npy"))
    engine = make_engine(f"sqlite:///{path}")
    steps: list[tuple[str, float]] = []
    started, cpu_started = time.perf_counter(), time.process_time()

    def step(label: str) -> None:
        steps.append((label, time.perf_counter() - started))

    with session_factory(engine)() as session:
        run = resolve(session, step=step, engine=engine_name)
        session.commit()
        seconds = time.perf_counter() - started
        # CPU seconds of every thread (DuckDB's too): the machine is shared, wall time is not.
        cpu_seconds = time.process_time() - cpu_started
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        jvm_cpu_seconds, jvm_peak_rss_mb = _jvm_usage() if engine_name == "spark" else (0.0, 0.0)
        owners = session.execute(select(SourceRecord.id, SourceRecord.stakeholder_id)).all()
    predicted = {record: stakeholder for record, stakeholder in owners}
    actual = {record: int(truth[record - 1]) for record in predicted}
    both = _pairs(Counter((actual[r], predicted[r]) for r in predicted))
    found = _pairs(Counter(predicted.values()))
    true_pairs = _pairs(Counter(actual.values()))
    print(
        json.dumps(
            {
                "records": run.records,
                "pairs_scored": run.pairs_scored,
                "golden": run.created,
                "review": run.review_pairs,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_rss_mb": peak_rss_mb,
                "jvm_cpu_seconds": jvm_cpu_seconds,
                "jvm_peak_rss_mb": jvm_peak_rss_mb,
                "true_pairs": true_pairs,
                "found_pairs": found,
                "correct_pairs": both,
                "steps": steps,
            }
        )
    )


def _jvm_usage() -> tuple[float, float]:
    """CPU seconds and peak resident MB of the JVM PySpark started (Spark's work is there)."""
    from cpxm.spark import get_spark

    pid = get_spark().sparkContext._jvm.java.lang.ProcessHandle.current().pid()  # type: ignore[union-attr]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return cpu, peak_kb / 1024


def _pairs(groups: Counter[Any]) -> int:
    return sum(size * (size - 1) // 2 for size in groups.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--store",
        type=Path,
        help="keep the generated records here; when it exists, resolve a copy of it instead",
    )
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where the pairs are scored (`cpxm resolve --engine`); spark needs the spark extra",
    )
    parser.add_argument("--resolve-side", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.resolve_side is not None:
        resolve_side(args.resolve_side, args.engine)
        return 0

    with tempfile.TemporaryDirectory(prefix="cpxm-identity-scale-") as name:
        path = Path(name) / "scale.db"
        if args.store is not None and args.store.exists():
            # A kept store: resolve a copy of it, so every run starts from the same records.
            shutil.copyfile(args.store, path)
            shutil.copyfile(args.store.with_suffix(".truth.npy"), path.with_suffix(".truth.npy"))
            print(f"records from {args.store}")
        else:
            started = time.perf_counter()
            rows, truth = generate(args.records, args.seed)
            generated = time.perf_counter() - started
            np.save(path.with_suffix(".truth.npy"), np.array(truth, dtype=np.int64))
            people = len(set(truth))
            started = time.perf_counter()
            load(path, rows)
            loaded = time.perf_counter() - started
            del rows, truth
            print(f"generated {args.records:,} records of {people:,} people in {generated:.0f} s")
            print(f"loaded into SQLite in {loaded:.0f} s")
            if args.store is not None:
                shutil.copyfile(path, args.store)
                shutil.copyfile(
                    path.with_suffix(".truth.npy"), args.store.with_suffix(".truth.npy")
                )
        output = subprocess.run(  # noqa: S603 -- this interpreter and this file
            [sys.executable, __file__, "--resolve-side", str(path), "--engine", args.engine],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    precision = result["correct_pairs"] / result["found_pairs"] if result["found_pairs"] else 1.0
    recall = result["correct_pairs"] / result["true_pairs"]
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(
        f"resolve:          {result['seconds']:.0f} s wall, {result['cpu_seconds']:.0f} s CPU,"
        f" peak RSS {result['peak_rss_mb']:,.0f} MB"
    )
    if args.engine == "spark":
        print(
            f"  Spark's JVM:    {result['jvm_cpu_seconds']:.0f} s CPU,"
            f" peak RSS {result['jvm_peak_rss_mb']:,.0f} MB"
        )
    print(f"records:          {result['records']:,}; pairs scored {result['pairs_scored']:,}")
    print(f"golden records:   {result['golden']:,}; review queue {result['review']:,}")
    print(f"true pairs:       {result['true_pairs']:,}")
    print(f"precision:        {precision:.4f}")
    print(f"recall:           {recall:.4f}")
    print(f"F1:               {f1:.4f}")
    marks = [*result["steps"], ("end", result["seconds"])]
    for (label, at), (_, until) in itertools.pairwise(marks):
        print(f"  {label:<26} {until - at:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
