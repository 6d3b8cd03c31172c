"""Benchmark: resolve the demo's silos and score the result against their ground truth.

    uv run python benchmarks/identity_demo.py --scale 1
    uv run python benchmarks/identity_demo.py --scale 1 --cache /tmp/demo-1.db  # reuse a demo

Generates the demo at a scale into a scratch SQLite file (the demo leaves every source record
without a stakeholder), runs ``resolve`` over it and compares the resulting clusters with
``demo_source_truth`` pair by pair: precision, recall and F1 over all pairs of source records
put together, plus wall seconds and peak RSS of the resolve alone. With ``--cache`` the
generated demo is kept at that path and copied for each later run, so iterating on the model
does not pay for generation.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select

from cpxm.db import make_engine, session_factory
from cpxm.demo.models import DemoSourceTruth
from cpxm.demo.service import clear_demo, generate_demo
from cpxm.identity.models import SourceRecord
from cpxm.identity.service import resolve
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
        started = time.perf_counter()
        run = resolve(session)
        session.commit()
        seconds = time.perf_counter() - started
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        truth = dict(
            session.execute(
                select(DemoSourceTruth.source_record_id, DemoSourceTruth.true_stakeholder_id)
            )
            .tuples()
            .all()
        )
        owner = session.execute(select(SourceRecord.id, SourceRecord.stakeholder_id)).tuples().all()
        predicted = {
            record: stakeholder
            for record, stakeholder in owner
            if record in truth and stakeholder is not None
        }
    engine.dispose()
    shutil.rmtree(path.parent)

    precision, recall, true_pairs = pairwise_scores(truth, predicted)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(f"source records:   {run.records:,} ({len(truth):,} with ground truth)")
    print(f"true pairs:       {true_pairs:,}; pairs scored {run.pairs_scored:,}")
    print(f"merges / created: {run.merges:,} / {run.created:,}; review queue {run.review_pairs:,}")
    print(f"precision:        {precision:.4f}")
    print(f"recall:           {recall:.4f}")
    print(f"F1:               {f1:.4f}")
    print(f"resolve:          {seconds:.1f} s wall, peak RSS {peak_rss_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
