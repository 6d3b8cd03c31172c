"""Server time of the stakeholder 360 page and the search, for a person with many interactions.

    uv run python -m benchmarks.stakeholder_360 [--scale 1] [--interactions 1000] [--runs 30]
        [--sqlite $TMPDIR/cpxm-bench-360-s1.db]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_bench_360]
    uv run python -m benchmarks.stakeholder_360 --runs 30 \
        --store postgresql+psycopg://postgres@127.0.0.1:5432/perf_s10

With ``--store`` an existing store is used as it is (no demo, no copy): a copy of a scale-10
demo, for example (``createdb -T cpxm_s10 perf_s10``). The benchmark writes to it (the
top-up, two users and their tokens), so never point it at a store you want to keep as it is.

The demo is generated once into the SQLite file (reused when present). The golden record with
the most interactions is topped up to ``--interactions`` (spread over three years, every
department and channel, notes on each) so the page shows a person as busy as the issue names;
the store is then copied to PostgreSQL when ``--postgres`` is given. Each view is asked
``--runs`` times in-process (TestClient: routing, sign-in by API token, access and audit, every
query, shields and template; no network) as an admin and as a commercial user, and p50 / p95
are printed per engine. The issue's target: p95 under 300 ms for 1,000 interactions at scale 10
on PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from benchmarks.analytics_pages import percentile, prepare_postgres, prepare_sqlite
from cpxm.app import create_app
from cpxm.auth.service import create_api_token, create_user
from cpxm.db import make_engine
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Response
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Channel, Department, User

NOTES = (
    "Discussed the new dosing card; asked for samples.",
    "Follow-up on the webinar; wants the slides.",
    "Called about reimbursement paperwork.",
    "Visit postponed by the practice.",
)


def busiest_person(engine: Engine) -> int:
    with Session(engine) as session:
        row = session.execute(
            select(Interaction.stakeholder_id, func.count())
            .join(Stakeholder, Stakeholder.id == Interaction.stakeholder_id)
            .where(Stakeholder.status == "active", Stakeholder.type == "hcp")
            .group_by(Interaction.stakeholder_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    return int(row[0])


def top_up(engine: Engine, stakeholder_id: int, wanted: int) -> int:
    """Add interactions to the person until they have ``wanted``; returns how many they have."""
    with Session(engine) as session:
        have = session.scalar(
            select(func.count()).where(Interaction.stakeholder_id == stakeholder_id)
        )
        missing = wanted - int(have or 0)
        if missing > 0:
            channels = list(session.scalars(select(Channel.code)))
            departments = list(session.scalars(select(Department.code)))
            rng = random.Random(360)
            now = utc_now().replace(tzinfo=None)
            session.add_all(
                Interaction(
                    stakeholder_id=stakeholder_id,
                    occurred_at=now - timedelta(minutes=rng.randrange(3 * 365 * 24 * 60)),
                    channel_code=rng.choice(channels),
                    department_code=rng.choice(departments),
                    interaction_type="visit",
                    direction=rng.choice(("inbound", "outbound")),
                    notes=rng.choice(NOTES),
                )
                for _ in range(missing)
            )
            session.commit()
        return int(
            session.scalar(select(func.count()).where(Interaction.stakeholder_id == stakeholder_id))
            or 0
        )


def bearer(engine: Engine, role: str) -> dict[str, str]:
    email = f"bench-360-{role}@bench.example"
    with Session(engine) as session:
        user = session.scalar(select(User).where(User.email == email)) or create_user(
            session, email=email, role=role
        )
        issued = create_api_token(session, user=user, name="benchmark")
        session.commit()
    return {"Authorization": f"Bearer {issued.token}"}


def timings(
    engine: Engine, stakeholder_id: int, runs: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Per view and role: wall-clock ms of each request, and this process's CPU ms for it (the
    app's own work, steadier than wall time on a shared machine; the database server's CPU is
    not in it on PostgreSQL)."""
    views = {
        "profile": f"/stakeholders/{stakeholder_id}",
        "profile, page 11": f"/stakeholders/{stakeholder_id}?offset=500",
        "profile, one channel": f"/stakeholders/{stakeholder_id}?channel=email",
        "search page": "/stakeholders?q=mar",
        "search API": "/api/v1/stakeholders/search?q=mar",
    }
    results: dict[str, tuple[list[float], list[float]]] = {}
    app = create_app(engine)
    for role in ("admin", "commercial"):
        with TestClient(app, headers=bearer(engine, role)) as client:
            for name, path in views.items():
                assert client.get(path).status_code == 200, (role, path)  # warm-up
                measured, cpu = [], []
                for _ in range(runs):
                    started, started_cpu = time.perf_counter(), time.process_time()
                    answer = client.get(path)
                    measured.append(1000 * (time.perf_counter() - started))
                    cpu.append(1000 * (time.process_time() - started_cpu))
                    assert answer.status_code == 200, (role, path, answer.status_code)
                results[f"{name} ({role})"] = (measured, cpu)
    return results


def report(engine_name: str, results: dict[str, tuple[list[float], list[float]]]) -> None:
    print(f"\n{engine_name}")
    print(f"{'view':40} {'p50 ms':>7} {'p95 ms':>7} {'CPU p50':>8}")
    for name, (wall, cpu) in results.items():
        print(
            f"{name:40} {percentile(wall, 0.5):7.0f} {percentile(wall, 0.95):7.0f} "
            f"{percentile(cpu, 0.5):8.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--interactions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--sqlite", type=Path, default=None)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--store", default=None, help="an existing store to use (and write)")
    arguments = parser.parse_args()
    if arguments.store:
        store = make_engine(arguments.store)
        person = busiest_person(store)
        count = top_up(store, person, arguments.interactions)
        with Session(store) as session:
            responses = session.scalar(select(func.count()).select_from(Response)) or 0
            interactions = session.scalar(select(func.count()).select_from(Interaction)) or 0
        print(
            f"{store.dialect.name}: {interactions} interactions, {responses} responses; "
            f"stakeholder {person} has {count} interactions; {arguments.runs} runs per view"
        )
        report(f"{store.dialect.name} {store.url.database}", timings(store, person, arguments.runs))
        return
    sqlite_path = arguments.sqlite or (
        Path(tempfile.gettempdir()) / f"cpxm-bench-360-s{arguments.scale:g}.db"
    )
    sqlite = prepare_sqlite(sqlite_path, arguments.scale)
    person = busiest_person(sqlite)
    count = top_up(sqlite, person, arguments.interactions)
    with Session(sqlite) as session:
        responses = session.scalar(select(func.count()).select_from(Response)) or 0
        interactions = session.scalar(select(func.count()).select_from(Interaction)) or 0
    print(
        f"scale {arguments.scale:g}: {interactions} interactions, {responses} responses; "
        f"stakeholder {person} has {count} interactions; {arguments.runs} runs per view"
    )
    report("SQLite", timings(sqlite, person, arguments.runs))
    if arguments.postgres:
        postgres = prepare_postgres(arguments.postgres, sqlite_path, (responses, interactions))
        report("PostgreSQL", timings(postgres, person, arguments.runs))


if __name__ == "__main__":
    main()
