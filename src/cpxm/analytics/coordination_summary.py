"""The coordination page's kept summary: its figures per stakeholder type, country and period.

Every figure of the page is a pass over all outbound contacts (2.3 million at demo scale 10),
and the ping-pong episodes a window over them. The summary holds the same figures already
grouped, a few thousand rows, so a cold page sums those instead (:func:`kept_coordination`).

**One writer**: :func:`refresh_coordination_summary`, run by ``cpxm analytics rebuild``, at the
end of ``cpxm demo``, and by the worker after an import and every ten minutes when the facts
changed. It computes the cells with the page's own expressions
(:mod:`cpxm.analytics.coordination_queries`), grouped also by type, country and period.

**Freshness rule**: the summary is stamped with the store's data fingerprint
(:func:`cpxm.analytics.service.data_fingerprint`: the highest ids and the change marker the
triggers keep) read before and after the build. A page uses it only while the store's
fingerprint is the same, so it never shows figures of other facts than the page would compute;
after any change it computes from the facts, as before, until the next refresh.

What it serves: no date range and filters on stakeholder type and country only (any grain);
the episodes and the effect only for the default N and D (and the effect for every NPS survey).
Anything else is computed from the facts. With the Spark engine the facts are the lake's: the
summary, built from the store, is not used.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from cpxm.analytics import stats
from cpxm.analytics.coordination_queries import (
    PEOPLE_COLUMNS,
    CoordinationQuery,
    bucket_of,
    effect_moments,
    episode_contacts,
    outbound,
    per_stakeholder_period,
    with_people,
)
from cpxm.analytics.facts import GRAINS, NONE_KEY, dimension_labels
from cpxm.analytics.models import CoordinationCell, CoordinationEffectCell, SummaryStamp
from cpxm.analytics.query import analytics_connection, analytics_engine, as_date, fetch
from cpxm.analytics.service import data_fingerprint
from cpxm.analytics.stamps import keep_stamp, stamp_of

SUMMARY_NAME = "coordination"
SUMMARISED = CoordinationQuery()  # the N and D the episodes and the effect are kept for
ALL_TIME = "all"  # the grain of rows that hold distinct stakeholders over all time
PRESSURE_DIMENSIONS = {"department": "department_code", "channel": "channel_code"}


@dataclass(frozen=True)
class Pressure:
    key: str | None
    contacts: int
    stakeholders: int
    stakeholder_periods: int


@dataclass(frozen=True)
class KeptCoordination:
    """The page's figures read from the summary; ``None`` where it does not serve the query."""

    pressure: dict[str, list[Pressure]]  # "department" / "channel"
    distribution: dict[str, int]  # bucket -> stakeholder-periods
    stakeholders_contacted: int
    episodes_by_period: dict[str, int] | None
    stakeholders_with_episodes: int | None
    effect: dict[int, stats.Moments] | None  # exposed (1/0) -> moments


def built_from(session: Session, departments: list[str]) -> str:
    """What a summary built now would describe: the data fingerprint and the departments."""
    return json.dumps(
        {"fingerprint": list(data_fingerprint(session)), "departments": departments},
        sort_keys=True,
    )


def _served(query: CoordinationQuery) -> bool:
    return (
        analytics_engine() == "store"
        and query.slice.date_from is None
        and query.slice.date_to is None
        and all(
            dimension in ("stakeholder_type", "country") for dimension, _ in query.slice.filters
        )
    )


def kept_coordination(
    session: Session, query: CoordinationQuery, departments: list[str]
) -> KeptCoordination | None:
    """The page's figures from the summary, or ``None`` when it cannot give them exactly (a
    date range, another filter, the Spark engine, or facts changed since the last refresh)."""
    if not _served(query):
        return None
    with analytics_connection(session) as connection:
        stamp = connection.execute(
            select(SummaryStamp.built_from).where(SummaryStamp.name == SUMMARY_NAME)
        ).scalar()
    if stamp is None or stamp != built_from(session, departments):
        return None
    wanted = []
    for dimension, value in query.slice.filters:
        column = (
            CoordinationCell.stakeholder_type
            if dimension == "stakeholder_type"
            else CoordinationCell.country_code
        )
        wanted.append(column.is_(None) if value == NONE_KEY else column == value)
    cells = (
        select(
            CoordinationCell.measure,
            CoordinationCell.key,
            CoordinationCell.grain,
            CoordinationCell.period,
            func.sum(CoordinationCell.contacts),
            func.sum(CoordinationCell.stakeholder_periods),
            func.sum(CoordinationCell.stakeholders),
        )
        .where(CoordinationCell.grain.in_((query.grain, ALL_TIME)), *wanted)
        .group_by(
            CoordinationCell.measure,
            CoordinationCell.key,
            CoordinationCell.grain,
            CoordinationCell.period,
        )
    )
    sums: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    reach: dict[tuple[str, str | None], int] = {}
    episodes: dict[str, int] = {}
    with analytics_connection(session) as connection:
        rows = connection.execute(cells).all()
        effect_rows = connection.execute(
            select(
                CoordinationEffectCell.exposed,
                func.sum(CoordinationEffectCell.n),
                func.sum(CoordinationEffectCell.total),
                func.sum(CoordinationEffectCell.total_squares),
                func.sum(CoordinationEffectCell.promoters),
                func.sum(CoordinationEffectCell.detractors),
            )
            .where(*[_effect_condition(d, value) for d, value in query.slice.filters])
            .group_by(CoordinationEffectCell.exposed)
        ).all()
    for measure, key, grain, period, contacts, pairs, stakeholders in rows:
        if grain == ALL_TIME:
            reach[(measure, key)] = int(stakeholders or 0)
        elif measure == "episodes":
            episodes[str(as_date(period))] = int(contacts or 0)
        else:
            found = sums[(measure, key)]
            found[0] += int(contacts or 0)
            found[1] += int(pairs or 0)
    pressure = {
        measure: [
            Pressure(key, counted[0], reach.get((measure, key), 0), counted[1])
            for (kind, key), counted in sums.items()
            if kind == measure
        ]
        for measure in PRESSURE_DIMENSIONS
    }
    same_episodes = (query.min_departments, query.window_days) == (
        SUMMARISED.min_departments,
        SUMMARISED.window_days,
    )
    effect = None
    if same_episodes and query.outcome_survey is None:
        effect = {
            int(exposed): stats.Moments(
                n=int(n),
                total=float(total),
                total_squares=float(squares),
                promoters=int(promoters),
                detractors=int(detractors),
            )
            for exposed, n, total, squares, promoters, detractors in effect_rows
        }
    return KeptCoordination(
        pressure=pressure,
        distribution={
            key or "": pairs for (measure, key), (_, pairs) in sums.items() if measure == "bucket"
        },
        stakeholders_contacted=reach.get(("contacted", None), 0),
        episodes_by_period=dict(sorted(episodes.items())) if same_episodes else None,
        stakeholders_with_episodes=reach.get(("episodes", None), 0) if same_episodes else None,
        effect=effect,
    )


def _effect_condition(dimension: str, value: str) -> Any:
    column = (
        CoordinationEffectCell.stakeholder_type
        if dimension == "stakeholder_type"
        else CoordinationEffectCell.country_code
    )
    return column.is_(None) if value == NONE_KEY else column == value


# --- the one writer ----------------------------------------------------------------------------


def _cell(
    grain: str, period: object, row: dict[str, Any], measure: str, **figures: Any
) -> dict[str, Any]:
    return {
        "grain": grain,
        "period": as_date(period) if period is not None else None,  # type: ignore[arg-type]
        "stakeholder_type": row["stakeholder_type"],
        "country_code": row["country_code"],
        "measure": measure,
        "key": figures.pop("key", None),
        "contacts": int(figures.get("contacts", 0)),
        "stakeholder_periods": int(figures.get("stakeholder_periods", 0)),
        "stakeholders": int(figures.get("stakeholders", 0)),
    }


def _cells(session: Session, departments: list[str]) -> list[dict[str, Any]]:
    contacts = with_people(outbound(SUMMARISED, dated=False))
    by = PEOPLE_COLUMNS
    cells: list[dict[str, Any]] = []

    def rows(expression: ir.Table) -> list[dict[str, Any]]:
        return fetch(session, expression, on_store=True)

    for measure, column in PRESSURE_DIMENSIONS.items():
        reach = contacts.group_by(key=contacts[column], **{c: contacts[c] for c in by}).aggregate(
            stakeholders=contacts.stakeholder_id.nunique()
        )
        cells += [
            _cell(ALL_TIME, None, row, measure, key=row["key"], stakeholders=row["stakeholders"])
            for row in rows(reach)
        ]
    contacted = contacts.group_by(*by).aggregate(stakeholders=contacts.stakeholder_id.nunique())
    cells += [
        _cell(ALL_TIME, None, row, "contacted", stakeholders=row["stakeholders"])
        for row in rows(contacted)
    ]
    starts = episode_contacts(departments, SUMMARISED)
    starts = with_people(starts.filter(starts.episode_start == 1))
    with_episodes = starts.group_by(*by).aggregate(stakeholders=starts.stakeholder_id.nunique())
    cells += [
        _cell(ALL_TIME, None, row, "episodes", stakeholders=row["stakeholders"])
        for row in rows(with_episodes)
    ]
    for grain, unit in GRAINS.items():
        for measure, column in PRESSURE_DIMENSIONS.items():
            pairs = per_stakeholder_period(contacts, grain, column, by)
            summed = pairs.group_by("key", "period", *by).aggregate(
                contacts=pairs.contacts.sum(), stakeholder_periods=pairs.count()
            )
            cells += [
                _cell(grain, row["period"], row, measure, key=row["key"],
                      contacts=row["contacts"], stakeholder_periods=row["stakeholder_periods"])
                for row in rows(summed)
            ]  # fmt: skip
        pairs = per_stakeholder_period(contacts, grain, None, by)
        buckets = pairs.group_by("period", *by, key=bucket_of(pairs.contacts)).aggregate(
            stakeholder_periods=pairs.count()
        )
        cells += [
            _cell(grain, row["period"], row, "bucket", key=row["key"],
                  stakeholder_periods=row["stakeholder_periods"])
            for row in rows(buckets)
        ]  # fmt: skip
        per_period = starts.group_by(*by, period=starts.occurred_at.truncate(unit)).aggregate(
            contacts=starts.count()
        )
        cells += [
            _cell(grain, row["period"], row, "episodes", contacts=row["contacts"])
            for row in rows(per_period)
        ]
    return cells


def refresh_coordination_summary(session: Session) -> int | None:
    """Rebuild the summary from the facts in the caller's transaction; the cells written, or
    ``None`` when the facts changed while it was built (then no stamp is kept and pages compute
    from the facts until the next refresh) or the Spark engine computes the figures."""
    if analytics_engine() != "store":
        return None
    started = time.perf_counter()
    departments = sorted(dimension_labels(session, "department"))
    before = built_from(session, departments)
    session.execute(delete(CoordinationCell))
    session.execute(delete(CoordinationEffectCell))
    session.execute(delete(SummaryStamp).where(SummaryStamp.name == SUMMARY_NAME))
    cells = _cells(session, departments)
    effect = [
        {column: row[column] for column in
         ("stakeholder_type", "country_code", "exposed", "n", "total", "total_squares",
          "promoters", "detractors")}
        for row in fetch(session, effect_moments(departments, SUMMARISED, PEOPLE_COLUMNS),
                         on_store=True)
    ]  # fmt: skip
    if cells:
        session.execute(insert(CoordinationCell), cells)
    if effect:
        session.execute(insert(CoordinationEffectCell), effect)
    if built_from(session, departments) != before:
        session.flush()
        return None
    keep_stamp(session, SUMMARY_NAME, built_from=before, started=started)
    return len(cells) + len(effect)


def summary_is_current(session: Session) -> bool:
    """Whether the summary describes the facts as they are now."""
    departments = sorted(dimension_labels(session, "department"))
    stamp = stamp_of(session, SUMMARY_NAME)
    return stamp is not None and stamp == built_from(session, departments)
