"""Benchmark: the demo's golden records against the true people behind them.

    uv run python benchmarks/identity_golden.py --scale 1
    uv run python benchmarks/identity_golden.py --store /tmp/demo.db  # a demo already made

Generates the demo at a scale into a scratch SQLite file (or reads a store ``cpxm demo`` made)
and reports, for golden person records: how many show a last name most of their own sources
spell otherwise (the measure of issue 16, needing no answer key), and the share of shown first
names, last names, birth dates and e-mails equal to the person's true ones
(``demo_source_truth``). A store made before the answer key held names is upgraded on a copy
and its answer key filled from the generator, which rebuilds the same people from the seed and
scale the store records: the way the figure before survivorship by agreement was measured.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, func, select, update

from cpxm.db import make_engine
from cpxm.demo.answer_key import SCORED, golden_accuracy, outvoted_last_names
from cpxm.demo.people import build_people
from cpxm.demo.service import generate_demo
from cpxm.migrate import upgrade_database
from cpxm.schema import metadata


def fill_answer_key(engine: Engine) -> int:
    """Write the true people's attributes into an answer key that lacks them; returns rows."""
    truth, runs = metadata.tables["demo_source_truth"], metadata.tables["demo_runs"]
    with engine.begin() as connection:
        if connection.scalar(
            select(func.count()).select_from(truth).where(truth.c.last_name.is_not(None))
        ):
            return 0
        seed, scale = connection.execute(select(runs.c.seed, runs.c.scale)).one()
        people = {person.id: person for person in build_people(seed, scale)}
        ids = list(connection.scalars(select(truth.c.true_stakeholder_id).distinct()))
        for person_id in ids:
            person = people[person_id]
            if person.kind == "organisation":
                continue
            connection.execute(
                update(truth)
                .where(truth.c.true_stakeholder_id == person_id)
                .values(
                    first_name=person.first_name,
                    last_name=person.last_name,
                    birth_date=person.birth_date,
                    email=person.email,
                )
            )
        return len(ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--store", type=Path, help="an SQLite demo store to score (copied)")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="cpxm-golden-")) / "demo.db"
    try:
        if args.store is not None:
            shutil.copyfile(args.store, scratch)
        engine = make_engine(f"sqlite:///{scratch}")
        upgrade_database(engine)
        if args.store is None:
            started = time.perf_counter()
            generate_demo(engine, scale=args.scale, seed=args.seed)
            print(
                f"demo generated: scale {args.scale}, seed {args.seed},"
                f" {time.perf_counter() - started:.1f} s"
            )
        elif fill_answer_key(engine):
            print("answer key filled from the generator (a store made before it held names)")
        with engine.connect() as connection:
            outvoted = outvoted_last_names(connection)
            structured = outvoted_last_names(connection, full_names=False)
            scores = golden_accuracy(connection)
        engine.dispose()
    finally:
        shutil.rmtree(scratch.parent)

    print(
        f"last name most sources spell otherwise: {outvoted.outvoted} of {outvoted.records}"
        f" golden records with 3+ sources giving one ({outvoted.share:.1%})"
    )
    print(
        f"  counting only sources with a last-name field (the issue's measure):"
        f" {structured.outvoted} of {structured.records} ({structured.share:.1%})"
    )
    for golden_id, shown, given in outvoted.examples[:5]:
        print(f"  stakeholder {golden_id}: {shown!r} against {given}")
    print("golden person records showing the true value, by how many sources give it:")
    print(
        f"{'attribute':<11} {'all':>19} {'2+ sources':>19} {'3+ sources':>19} {'missing':>7}"
        f" {'initial only':>12} {'all, initials apart':>20}"
    )
    for name in SCORED:
        score = scores[name]
        cells = [
            f"{score.right(n):>5}/{score.shown(n):<5} {score.accuracy(n):>7.2%}" for n in (1, 2, 3)
        ]
        apart = f"{score.right():>5}/{score.shown() - score.initial_only():<5}"
        print(
            f"{name:<11} {cells[0]:>19} {cells[1]:>19} {cells[2]:>19} {score.missing:>7}"
            f" {score.initial_only():>12} {apart} {score.accuracy_in_full():>7.2%}"
        )
    for name in SCORED:
        for golden_id, shown, true in scores[name].examples[:4]:
            print(f"  {name} of stakeholder {golden_id}: {shown!r}, truly {true!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
