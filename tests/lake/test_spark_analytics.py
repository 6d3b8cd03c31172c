"""Every analytics report gives the same figures on Spark over the lake as on PostgreSQL.

One demo store (PostgreSQL, scale 0.05), its lake written with ``--store-tables``, and each
report computed twice through the code the pages call: once with the default engine, once with
``CPXM_ANALYTICS_ENGINE=spark`` on a local Spark session. Same n, same figures to the last
decimal the floating point carries (a relative 1e-9), same order. Each Spark run must have run
Spark jobs, so the comparison cannot pass by computing both sides on the store.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.access.principal import Principal
from cpxm.access.roles import Role
from cpxm.analytics.coordination import CoordinationQuery, coordination_report
from cpxm.analytics.drivers import DriverQuery, key_drivers, surveys_with_drivers
from cpxm.analytics.facts import Slice
from cpxm.analytics.journeys import JourneyQuery, journey_report, journeys, peak_end
from cpxm.analytics.metrics import MetricQuery, metric_report
from cpxm.analytics.service import workspace_overview
from cpxm.auth.service import create_user
from cpxm.db import make_engine
from cpxm.demo.service import generate_demo
from cpxm.lake.export import export_lake
from cpxm.migrate import upgrade_database
from cpxm.surveys.models import Survey
from tests.conftest import postgres_test_url
from tests.lake.spark_support import spark_session

DEMO_SCALE = 0.05
DEMO_SEED = 11


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    yield from spark_session()


@pytest.fixture(scope="module")
def demo(spark: Any) -> Iterator[Engine]:
    engine = make_engine(postgres_test_url("spark_demo_"))
    upgrade_database(engine)
    generate_demo(engine, scale=DEMO_SCALE, seed=DEMO_SEED)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def lake(demo: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("lake") / "lake"
    with Session(demo) as session:
        user = create_user(session, email=f"lake-{uuid.uuid4().hex[:8]}@x.example", role="admin")
        principal = Principal(
            user_id=user.id,
            email=user.email,
            display_name=user.email,
            role=Role.ADMIN,
            method="token",
        )
        export_lake(session, target=target, principal=principal, mirror=True)
        session.commit()
    return target


Report = Callable[[Session], Any]


def _differences(store: Any, spark: Any, path: str = "") -> Iterator[str]:
    if dataclasses.is_dataclass(store) and not isinstance(store, type):
        store = dataclasses.asdict(store)
    if dataclasses.is_dataclass(spark) and not isinstance(spark, type):
        spark = dataclasses.asdict(spark)
    if isinstance(store, dict) and isinstance(spark, dict):
        for key in sorted(set(store) | set(spark), key=str):
            yield from _differences(store.get(key), spark.get(key), f"{path}.{key}")
    elif isinstance(store, list | tuple) and isinstance(spark, list | tuple):
        if len(store) != len(spark):
            yield f"{path}: {len(store)} items on the store, {len(spark)} on Spark"
        for index, (left, right) in enumerate(zip(store, spark, strict=False)):
            yield from _differences(left, right, f"{path}[{index}]")
    elif isinstance(store, float) and isinstance(spark, float):
        same = (math.isnan(store) and math.isnan(spark)) or math.isclose(
            store, spark, rel_tol=1e-9, abs_tol=1e-12
        )
        if not same:
            yield f"{path}: {store!r} on the store, {spark!r} on Spark"
    elif store != spark or type(store) is not type(spark):
        yield f"{path}: {store!r} on the store, {spark!r} on Spark"


def _spark_jobs(spark: Any) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup())


def _compare(
    demo: Engine, lake: Path, spark: Any, monkeypatch: pytest.MonkeyPatch, report: Report
) -> Any:
    with Session(demo) as session:
        monkeypatch.delenv("CPXM_ANALYTICS_ENGINE", raising=False)
        on_store = report(session)
        monkeypatch.setenv("CPXM_ANALYTICS_ENGINE", "spark")
        monkeypatch.setenv("CPXM_LAKE_PATH", str(lake))
        jobs = _spark_jobs(spark)
        on_spark = report(session)
        assert _spark_jobs(spark) > jobs, "the Spark run ran no Spark job"
        session.rollback()
    differences = list(_differences(on_store, on_spark))
    assert not differences, "\n".join(differences[:20])
    return on_store


def _sorted_scores(overview: Any) -> Any:
    # The overview's scores come in the order the engine grouped them; the page sorts them.
    return dataclasses.replace(
        overview, scores=sorted(overview.scores, key=lambda s: (s.metric, s.segment))
    )


def test_overview(demo: Engine, lake: Path, spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    overview = _compare(
        demo, lake, spark, monkeypatch, lambda s: _sorted_scores(workspace_overview(s))
    )
    assert overview.total_responses > 100 and overview.monthly_interactions


@pytest.mark.parametrize("metric", ["nps", "csat", "ces"])
@pytest.mark.parametrize(
    ("segment", "grain", "slice_"),
    [
        ("stakeholder_type", None, Slice()),
        (None, "month", Slice()),
        ("country", "quarter", Slice(filters=(("stakeholder_type", "hcp"),))),
    ],
    ids=["by-type", "monthly", "hcp-by-country-quarterly"],
)
def test_scores_with_intervals(
    demo: Engine,
    lake: Path,
    spark: Any,
    monkeypatch: pytest.MonkeyPatch,
    metric: str,
    segment: str | None,
    grain: str | None,
    slice_: Slice,
) -> None:
    query = MetricQuery(metric=metric, segment=segment, grain=grain, slice=slice_)
    report = _compare(demo, lake, spark, monkeypatch, lambda s: metric_report(s, query))
    assert report.overall.n > 0 and report.overall.ci_low is not None
    if segment:
        assert len(report.segments) >= 2
    if grain:
        assert len(report.trend) >= 2


def test_drivers(demo: Engine, lake: Path, spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with Session(demo) as session:
        confidential = set(session.scalars(select(Survey.code).where(Survey.confidential)))
        surveys = [code for code, _ in surveys_with_drivers(session) if code not in confidential]
    assert len(surveys) >= 3 and confidential  # the pulse is refused on both engines alike
    shown = 0
    for survey in surveys:
        report = _compare(
            demo,
            lake,
            spark,
            monkeypatch,
            partial(key_drivers, query=DriverQuery(survey=survey)),
        )
        shown += bool(report.drivers)
    assert shown >= 2  # not only reports too small to show


def test_coordination_and_ping_pong(
    demo: Engine, lake: Path, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _compare(
        demo,
        lake,
        spark,
        monkeypatch,
        lambda s: coordination_report(s, CoordinationQuery(), include_affected=True),
    )
    assert report.by_department and report.affected


def test_journeys(demo: Engine, lake: Path, spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with Session(demo) as session:
        codes = [code for code, _ in journeys(session)]
    assert len(codes) >= 2
    for code in codes:
        query = JourneyQuery(journey=code)
        report = _compare(demo, lake, spark, monkeypatch, partial(journey_report, query=query))
        assert report.stages
        _compare(demo, lake, spark, monkeypatch, partial(peak_end, query=query))
