"""Time of `cpxm lake export` on a demo store: the first run, a rerun with nothing changed, a
rerun after one new interaction and one edited case, and a full rewrite (``--full``, the
reference: what a run costs that cannot tell what changed).

    uv run python -m benchmarks.lake_export [--scale 1] [--store $TMPDIR/cpxm-bench-lake-1.db]

The store is the demo at ``--scale``, generated into ``--store`` when missing (about two
minutes at scale 1) and copied before the runs, which write to it. Wall time and this process's
CPU time (the machine is shared; CPU seconds are steadier), files written and the lake's size.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from benchmarks.analytics_pages import prepare_sqlite
from cpxm.access import Principal, Role
from cpxm.auth.service import create_user
from cpxm.cases.models import Case
from cpxm.db import make_engine
from cpxm.interactions.models import Interaction
from cpxm.lake.export import LakeReport, export_lake


def _analyst(engine: Engine) -> Principal:
    with Session(engine) as session:
        user = create_user(
            session, email=f"lake-{uuid.uuid4().hex[:6]}@bench.example", role="analyst"
        )
        session.commit()
        return Principal(user.id, user.email, user.email, Role.ANALYST, "token")


def _run(
    engine: Engine, lake: Path, principal: Principal, full: bool = False
) -> tuple[float, float, LakeReport]:
    wall, cpu = time.perf_counter(), time.process_time()
    with Session(engine) as session:
        report = export_lake(session, target=lake, principal=principal, full=full)
        session.commit()
    return time.perf_counter() - wall, time.process_time() - cpu, report


def _change(engine: Engine) -> None:
    with Session(engine) as session:
        newest = session.scalars(select(Interaction).order_by(Interaction.id.desc()).limit(1)).one()
        session.add(
            Interaction(
                stakeholder_id=newest.stakeholder_id,
                occurred_at=datetime(2025, 6, 30, 12, 0),
                channel_code=newest.channel_code,
                department_code=newest.department_code,
                interaction_type=newest.interaction_type,
                direction=newest.direction,
            )
        )
        oldest_case = session.scalar(select(func.min(Case.id)))
        session.execute(update(Case).where(Case.id == oldest_case).values(priority="urgent"))
        session.commit()


def _size(lake: Path) -> float:
    return sum(path.stat().st_size for path in lake.rglob("*.parquet")) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--store", type=Path, default=Path(tempfile.gettempdir()) / "cpxm-bench-lake-1.db"
    )
    arguments = parser.parse_args()
    prepare_sqlite(arguments.store, arguments.scale).dispose()
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "store.db"
        shutil.copyfile(arguments.store, copy)
        engine = make_engine(f"sqlite:///{copy}")
        principal = _analyst(engine)
        lake = Path(folder) / "lake"
        rows: list[tuple[str, float, float, LakeReport]] = []
        rows.append(("first run", *_run(engine, lake, principal)))
        rows.append(("rerun, nothing changed", *_run(engine, lake, principal)))
        _change(engine)
        rows.append(("rerun after 1 new + 1 edited row", *_run(engine, lake, principal)))
        rows.append(("--full (reference)", *_run(engine, lake, principal, full=True)))
        total = sum(dataset.rows for dataset in rows[0][3].datasets)
        print(f"lake export, demo scale {arguments.scale:g}: {total:,} rows, {_size(lake):.1f} MB")
        print(f"{'run':<34} {'wall s':>7} {'CPU s':>7} {'files written':>14} {'rows written':>13}")
        reference_cpu = rows[-1][2]
        for name, wall, cpu, report in rows:
            written = sum(dataset.rows_written for dataset in report.datasets)
            print(
                f"{name:<34} {wall:>7.1f} {cpu:>7.1f} {report.files_written:>14} {written:>13,}"
                f"   CPU {cpu / reference_cpu:.2f}x of --full"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
