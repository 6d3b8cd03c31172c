"""Benchmark: the demo's silos as the demo resolves them, scored against their ground truth.

    uv run python benchmarks/identity_demo.py --scale 1
    uv run python benchmarks/identity_demo.py --scale 1 --cache /tmp/demo-1.db  # reuse a demo

Generates the demo at a scale into a scratch SQLite file. The demo writes each silo as the file
its system exports, loads it with the shipped template through ``cpxm import`` (one provisional
stakeholder per source record) and runs ``resolve`` over them, as a user would. This scores the
store as the demo left it: the resulting clusters compared with ``demo_source_truth`` pair by
pair (precision, recall and F1 over all pairs of source records), the review queue, and the
resolve's wall seconds from its run record. With ``--cache`` the generated demo is kept at that
path and copied for each later run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.db import make_engine, session_factory
from cpxm.demo.models import DemoSourceTruth
from cpxm.demo.service import clear_demo, generate_demo
from cpxm.identity.models import MatchPair, ResolutionRun, SourceRecord
from cpxm.identity.normalise import COLUMNS, Normalised, normalise
from cpxm.migrate import upgrade_database


def pairs_within(groups: Iterable[int]) -> int:
    return sum(size * (size - 1) // 2 for size in groups)


def pairwise_scores(truth: dict[int, int], predicted: dict[int, int]) -> tuple[float, float, int]:
    """Precision and recall over record pairs, and the number of true pairs."""
    true_pairs = pairs_within(Counter(truth.values()).values())
    found_pairs = pairs_within(Counter(predicted.values()).values())
    both = pairs_within(Counter((truth[r], predicted.get(r, -r)) for r in truth).values())
    precision = both / found_pairs if found_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    return precision, recall, true_pairs


# Every attribute the model compares besides the names: what could tell two records apart.
FIELDS = COLUMNS[COLUMNS.index("dob") :]


def ground_truth_audit(
    session: Session, truth: dict[int, int], predicted: dict[int, int]
) -> dict[str, int]:
    """Pairs the records themselves cannot decide, whatever the model.

    ``twins``: records of two different people with the same full name and no field that
    tells them apart (every field both know is equal). ``name_only``: records of one person
    that share nothing but a name, written differently (``E. Myers`` with nothing else, and
    ``Elliot Myers`` with a phone). ``missed_name_only``: of the true pairs the run missed,
    how many are such name-only pairs.
    """
    rows = session.execute(
        select(SourceRecord.id, SourceRecord.source_system, SourceRecord.attributes)
    ).all()
    records = {row.id: normalise(row.id, row.source_system, row.attributes or {}) for row in rows}

    def shared(a: Normalised, b: Normalised) -> list[str]:
        return [f for f in FIELDS if getattr(a, f) is not None and getattr(b, f) is not None]

    by_name: dict[tuple[str, str], list[Normalised]] = defaultdict(list)
    for record in records.values():
        if record.full_name and record.unique_id in truth:
            by_name[(record.kind, record.full_name)].append(record)
    twins = 0
    for group in by_name.values():
        for a, b in combinations(group, 2):
            if truth[a.unique_id] != truth[b.unique_id] and all(
                getattr(a, f) == getattr(b, f) for f in shared(a, b)
            ):
                twins += 1
    by_person: dict[int, list[int]] = defaultdict(list)
    for record_id, person in truth.items():
        by_person[person].append(record_id)
    name_only = missed = 0
    for members in by_person.values():
        for a_id, b_id in combinations(members, 2):
            a, b = records[a_id], records[b_id]
            if not shared(a, b) and (a.full_name is None or a.full_name != b.full_name):
                name_only += 1
                missed += predicted.get(a_id, -a_id) != predicted.get(b_id, -b_id)
    return {"twins": twins, "name_only": name_only, "missed_name_only": missed}


def demo_store(scale: float, seed: int, cache: Path | None) -> Path:
    """A scratch copy of a freshly generated (or cached) demo store."""
    scratch = Path(tempfile.mkdtemp(prefix="cpxm-identity-")) / "demo.db"
    if cache is not None and cache.exists():
        shutil.copyfile(cache, scratch)
        return scratch
    engine = make_engine(f"sqlite:///{scratch}")
    upgrade_database(engine)
    clear_demo(engine)
    started = time.perf_counter()
    generate_demo(engine, scale=scale, seed=seed)
    engine.dispose()
    print(f"demo generated:   scale {scale}, seed {seed}, {time.perf_counter() - started:.1f} s")
    if cache is not None:
        shutil.copyfile(scratch, cache)
    return scratch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache", type=Path, default=None, help="keep / reuse the demo here")
    args = parser.parse_args(argv)

    path = demo_store(args.scale, args.seed, args.cache)
    engine = make_engine(f"sqlite:///{path}")
    with session_factory(engine)() as session:
        run = session.scalars(
            select(ResolutionRun)
            .where(ResolutionRun.finished_at.is_not(None))
            .order_by(ResolutionRun.id.desc())
            .limit(1)
        ).one()
        assert run.finished_at is not None
        seconds = (run.finished_at - run.started_at).total_seconds()
        truth = dict(
            session.execute(
                select(DemoSourceTruth.source_record_id, DemoSourceTruth.true_stakeholder_id)
            ).all()
        )
        owner = session.execute(select(SourceRecord.id, SourceRecord.stakeholder_id)).all()
        predicted = {
            record: stakeholder
            for record, stakeholder in owner
            if record in truth and stakeholder is not None
        }
        audit = ground_truth_audit(session, truth, predicted)
        review = session.execute(
            select(MatchPair.record_low_id, MatchPair.record_high_id).where(
                MatchPair.status == "pending"
            )
        ).all()
    engine.dispose()
    shutil.rmtree(path.parent)

    precision, recall, true_pairs = pairwise_scores(truth, predicted)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    # Auto-decision scores leave out the pairs the run handed to a person: a review pair is
    # never linked, so it only changes recall (a true pair waiting for review is not missed).
    true_in_review = sum(1 for low, high in review if truth.get(low) == truth.get(high))
    decided_true_pairs = true_pairs - true_in_review
    auto_recall = recall * true_pairs / decided_true_pairs if decided_true_pairs else 1.0
    auto_f1 = (
        2 * precision * auto_recall / (precision + auto_recall) if precision + auto_recall else 0.0
    )
    print(f"source records:   {run.records:,} ({len(truth):,} with ground truth)")
    print(f"true pairs:       {true_pairs:,}; pairs scored {run.pairs_scored:,}")
    print(f"merges / created: {run.merges:,} / {run.created:,}; review queue {run.review_pairs:,}")
    print(f"precision:        {precision:.4f}")
    print(f"recall:           {recall:.4f}")
    print(f"F1:               {f1:.4f}")
    print(
        f"review queue:     {len(review):,} pairs ({true_in_review:,} of them true matches);"
        f" without them: recall {auto_recall:.4f}, auto-decision F1 {auto_f1:.4f}"
    )
    print(f"resolve:          {seconds:.1f} s wall (the demo's own run, from its record)")
    print(
        f"undecidable:      {audit['twins']:,} pairs of different people with one name and"
        f" nothing to tell them apart; {audit['name_only']:,} true pairs sharing only a"
        f" differently written name, {audit['missed_name_only']:,} of them missed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
