"""Server time of the initiatives backlog, two initiative pages, the maturity page and their API
on the demo (SQLite), cold (the app's report cache emptied first: the key-driver report an
initiative page shares with the key-drivers page is computed again) and warm.

    PYTHONPATH=src python -m benchmarks.initiatives_pages [--runs 10] [--scale 0.05]
        [--sqlite $TMPDIR/cpxm-bench-initiatives.db]

The demo is generated into the SQLite file when missing and the demo's backlog (Kano survey,
initiatives, self-assessments: ``cpxm.initiatives.demo``) added as ``cpxm demo`` adds it. Each
path is asked ``--runs`` times in-process after one warm-up (TestClient: routing, queries,
statistics, charts and template; no network); access is not measured.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from benchmarks.analytics_pages import counts, percentile, prepare_sqlite, time_runs
from cpxm.access import ALL_POLICIES, Principal, Role
from cpxm.app import create_app
from cpxm.auth.service import create_user
from cpxm.initiatives.demo import prepare_demo_initiatives
from cpxm.workspace.models import User

BENCH_USER = "bench-initiatives@example.org"

PATHS = {
    "backlog page": "/initiatives",
    "backlog API": "/api/v1/initiatives",
    "initiative page (driver, theme, Kano)": "/initiatives/faster_medical_answers",
    "initiative page (journey, before/after)": "/initiatives/psp_onboarding_call",
    "initiative API": "/api/v1/initiatives/faster_medical_answers",
    "maturity page": "/maturity",
    "maturity API": "/api/v1/maturity",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument(
        "--sqlite", type=Path,
        default=Path(tempfile.gettempdir()) / "cpxm-bench-initiatives.db",
    )  # fmt: skip
    arguments = parser.parse_args()
    engine = prepare_sqlite(arguments.sqlite, arguments.scale)
    prepare_demo_initiatives(engine, seed=42)
    responses, interactions = counts(engine)
    print(f"SQLite scale {arguments.scale:g}: {responses:,} responses, {interactions:,} contacts")
    app = create_app(engine)
    # A real user: reads of patients' words in verbatims are audited under their id.
    with Session(engine) as session:
        user = session.scalars(select(User).where(User.email == BENCH_USER)).one_or_none()
        user = user or create_user(session, email=BENCH_USER, role="cx_lead")
        user_id = user.id
        session.commit()
    reader = Principal(user_id=user_id, email=BENCH_USER, display_name="Benchmark",
                       role=Role.CX_LEAD, method="token")  # fmt: skip
    for policy in ALL_POLICIES:  # access is not what is measured
        app.dependency_overrides[policy] = lambda: reader
    print("| path | cold p50 | cold p95 | warm p50 | warm p95 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    with TestClient(app) as client:
        for name, path in PATHS.items():

            def warm(path: str = path) -> None:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            def cold(path: str = path) -> None:
                if getattr(app.state, "report_cache", None) is not None:
                    app.state.report_cache.clear()
                warm(path)

            colds = time_runs(arguments.runs, cold)
            warms = time_runs(arguments.runs, warm)
            print(
                f"| {name}: `{path}` | {statistics.median(colds):.0f} ms "
                f"| {percentile(colds, 0.95):.0f} ms | {statistics.median(warms):.0f} ms "
                f"| {percentile(warms, 0.95):.0f} ms |"
            )


if __name__ == "__main__":
    main()
