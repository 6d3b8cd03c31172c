"""Coordination: how hard the company presses on each stakeholder, "ping-pong" between
departments, what it does to later experience, and who is affected now.

The queries (and what a ping-pong episode is) are in :mod:`cpxm.analytics.coordination_queries`;
a cold page reads the summary the store keeps of them (:mod:`cpxm.analytics.coordination_summary`)
when it describes the facts as they are, and computes from the facts otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
from sqlalchemy.orm import Session

from cpxm.access import Domain, Principal, cells, shield_analytics_rows
from cpxm.access.purposes import objecting, permitted
from cpxm.analytics import stats
from cpxm.analytics.coordination_queries import (
    BUCKET_LABELS,
    CoordinationQuery,
    bucket_of,
    effect_moments,
    episode_contacts,
    outbound,
    per_stakeholder_period,
    stakeholder_filter,
    within_dates,
)
from cpxm.analytics.coordination_summary import KeptCoordination, Pressure, kept_coordination
from cpxm.analytics.facts import GRAINS, dimension_labels, label_for, validate_slice
from cpxm.analytics.query import as_date, as_datetime, fetch, table
from cpxm.analytics.service import ReportCache
from cpxm.errors import FieldError, field_error

# Other pages filter and date their rows as this one does.
_stakeholder_filter = stakeholder_filter
_dated = within_dates
__all__ = [
    "CoordinationQuery",
    "CoordinationReport",
    "coordination_for_viewer",
    "coordination_report",
]


@dataclass(frozen=True)
class PressureRow:
    """One department's or channel's pressure; the figures are ``None`` (``suppressed``) where
    the row would describe fewer people than the workspace's minimum cell size, or is hidden
    beside such a row so it cannot be worked out from the other dimension's totals."""

    key: str
    label: str
    contacts: int | None
    stakeholders: int | None  # distinct stakeholders contacted
    stakeholder_periods: int | None  # (stakeholder, period) pairs with a contact
    contacts_per_stakeholder_period: float | None
    suppressed: bool = False


@dataclass(frozen=True)
class ExperienceEffect:
    """Later NPS of respondents with and without an episode in the D days before answering."""

    exposed_n: int
    unexposed_n: int
    exposed_mean: float | None
    unexposed_mean: float | None
    mean_difference: float | None  # 0-10 points
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    exposed_nps: float | None
    unexposed_nps: float | None


@dataclass(frozen=True)
class AffectedStakeholder:
    stakeholder_id: int | None  # None when withheld (patient-identifiable): see stakeholder_key
    name: str
    stakeholder_type: str
    country: str | None
    departments: int  # most departments within D days in the current episode
    contacts: int  # outbound contacts in the D days up to as_of
    episode_started: datetime | None
    last_contact: datetime | None
    stakeholder_key: str | None = None  # a patient's pseudonymous key


@dataclass(frozen=True)
class CoordinationReport:
    query: CoordinationQuery
    by_department: list[PressureRow]
    by_channel: list[PressureRow]
    # contacts per stakeholder-period bucket -> pairs (None: suppressed, see PressureRow)
    distribution: list[tuple[str, int | None]]
    episodes: int
    stakeholders_with_episodes: int
    stakeholders_contacted: int
    episodes_by_period: list[tuple[str, int | None]]  # None: suppressed
    effect: ExperienceEffect
    as_of: date | None
    affected: list[AffectedStakeholder]


def _validate(session: Session, query: CoordinationQuery) -> None:
    errors = []
    if not 2 <= query.min_departments <= 20:
        errors.append(field_error("min_departments", "between 2 and 20", query.min_departments))
    if not 1 <= query.window_days <= 365:
        errors.append(field_error("window_days", "between 1 and 365 days", query.window_days))
    if query.grain not in GRAINS:
        errors.append(field_error("grain", f"one of {', '.join(GRAINS)}", query.grain))
    if not 1 <= query.top <= 500:
        errors.append(field_error("top", "between 1 and 500", query.top))
    if errors:
        raise FieldError(errors)
    validate_slice(session, query.slice)


def _pressure(session: Session, contacts: ir.Table, dimension: str, grain: str) -> list[Pressure]:
    pairs = per_stakeholder_period(contacts, grain, dimension)
    summary = pairs.group_by("key").aggregate(
        contacts=pairs.contacts.sum(),
        stakeholders=pairs.stakeholder_id.nunique(),
        pairs=pairs.count(),
    )
    return [
        Pressure(row["key"], int(row["contacts"]), int(row["stakeholders"]), int(row["pairs"]))
        for row in fetch(session, summary)
    ]


def _pressure_rows(found: list[Pressure], labels: dict[str, str]) -> list[PressureRow]:
    rows = [
        PressureRow(
            key=row.key,  # type: ignore[arg-type]
            label=label_for(labels, row.key),  # type: ignore[arg-type]
            contacts=row.contacts,
            stakeholders=row.stakeholders,
            stakeholder_periods=row.stakeholder_periods,
            contacts_per_stakeholder_period=row.contacts / row.stakeholder_periods,
        )
        for row in found
    ]
    # Most contacts first; ties by key, so the summary and the facts give one order.
    return sorted(rows, key=lambda row: (-(row.contacts or 0), str(row.key)))


def _distribution(session: Session, contacts: ir.Table, grain: str) -> dict[str, int]:
    pairs = per_stakeholder_period(contacts, grain)
    counted = pairs.group_by(bucket=bucket_of(pairs.contacts)).aggregate(pairs=pairs.count())
    return {row["bucket"]: int(row["pairs"]) for row in fetch(session, counted)}


def _episodes(
    session: Session, departments: list[str], query: CoordinationQuery
) -> tuple[dict[str, int], int]:
    """Episodes starting per period, and the stakeholders with one, from the facts."""
    dated = within_dates(episode_contacts(departments, query), query.slice)
    starts = dated.filter(dated.episode_start == 1)
    per_stakeholder = starts.group_by(
        stakeholder_id=starts.stakeholder_id,
        period=starts.occurred_at.truncate(GRAINS[query.grain]),
    ).aggregate(episodes=starts.count())
    # One pass of the window query; totals and the per-period series are sums of its rows.
    episode_rows = fetch(session, per_stakeholder)
    per_period: dict[str, int] = {}
    for row in episode_rows:
        period = str(as_date(row["period"]))
        per_period[period] = per_period.get(period, 0) + int(row["episodes"])
    return per_period, len({row["stakeholder_id"] for row in episode_rows})


def _from_facts(
    session: Session, departments: list[str], query: CoordinationQuery
) -> KeptCoordination:
    """The figures the summary keeps, computed from the facts (any query)."""
    contacts = outbound(query)
    per_period, with_episodes = _episodes(session, departments, query)
    return KeptCoordination(
        pressure={
            "department": _pressure(session, contacts, "department_code", query.grain),
            "channel": _pressure(session, contacts, "channel_code", query.grain),
        },
        distribution=_distribution(session, contacts, query.grain),
        stakeholders_contacted=_count_distinct_stakeholders(session, contacts),
        episodes_by_period=per_period,
        stakeholders_with_episodes=with_episodes,
        effect=_effect_moments(session, departments, query),
    )


def coordination_report(
    session: Session,
    query: CoordinationQuery,
    *,
    include_affected: bool = False,
) -> CoordinationReport:
    """Contact pressure, ping-pong episodes, their effect on NPS and who is affected now.

    The affected list names stakeholders, so it is only built when ``include_affected`` (the
    viewer may see records), whole: ``coordination_for_viewer`` shields it for the viewer."""
    _validate(session, query)
    departments = sorted(dimension_labels(session, "department"))
    figures = kept_coordination(session, query, departments)
    if figures is None:
        figures = _from_facts(session, departments, query)
    if figures.episodes_by_period is None or figures.stakeholders_with_episodes is None:
        per_period, with_episodes = _episodes(session, departments, query)
        figures = replace(
            figures, episodes_by_period=per_period, stakeholders_with_episodes=with_episodes
        )
    if figures.effect is None:
        figures = replace(figures, effect=_effect_moments(session, departments, query))
    assert figures.episodes_by_period is not None and figures.effect is not None
    episodes_by_period = sorted(figures.episodes_by_period.items())
    effect = _effect(figures.effect)
    as_of, affected = _affected(session, departments, query) if include_affected else (None, [])
    # No figure about fewer people than the workspace's minimum cell size, with complements
    # (cpxm.access.cells): totals are shown beside every one of these breakdowns.
    floor = cells.min_cell_size(session)
    if 0 < min(effect.exposed_n, effect.unexposed_n) < floor:
        effect = ExperienceEffect(
            effect.exposed_n, effect.unexposed_n, *([None] * (len(fields(effect)) - 2))
        )
    by_department = _pressure_rows(
        figures.pressure["department"], dimension_labels(session, "department")
    )
    by_channel = _pressure_rows(figures.pressure["channel"], dimension_labels(session, "channel"))
    distribution = [(label, figures.distribution.get(label, 0)) for label in BUCKET_LABELS]
    return CoordinationReport(
        query=query,
        by_department=_small_rows_hidden(by_department, floor),
        by_channel=_small_rows_hidden(by_channel, floor),
        distribution=_small_cells_hidden(distribution, floor),
        episodes=sum(figures.episodes_by_period.values()),
        stakeholders_with_episodes=figures.stakeholders_with_episodes or 0,
        stakeholders_contacted=figures.stakeholders_contacted,
        episodes_by_period=_small_cells_hidden(episodes_by_period, floor),
        effect=effect,
        as_of=as_of,
        affected=affected,
    )


def _small_rows_hidden(rows: list[PressureRow], floor: int) -> list[PressureRow]:
    hidden = cells.suppressed([row.stakeholders or 0 for row in rows], min_n=floor)
    return [
        PressureRow(row.key, row.label, None, None, None, None, suppressed=True)
        if index in hidden
        else row
        for index, row in enumerate(rows)
    ]


def _small_cells_hidden(
    counts: Sequence[tuple[str, int | None]], floor: int
) -> list[tuple[str, int | None]]:
    hidden = cells.suppressed([count or 0 for _, count in counts], min_n=floor)
    return [(key, None if index in hidden else count) for index, (key, count) in enumerate(counts)]


def _count_distinct_stakeholders(session: Session, contacts: ir.Table) -> int:
    (row,) = fetch(session, contacts.aggregate(n=contacts.stakeholder_id.nunique()))
    return int(row["n"] or 0)


def _effect_moments(
    session: Session, departments: list[str], query: CoordinationQuery
) -> dict[int, stats.Moments]:
    return {
        int(row["exposed"]): stats.Moments(
            n=int(row["n"]),
            total=float(row["total"]),
            total_squares=float(row["total_squares"]),
            promoters=int(row["promoters"]),
            detractors=int(row["detractors"]),
        )
        for row in fetch(session, effect_moments(departments, query))
    }


def _effect(groups: dict[int, stats.Moments]) -> ExperienceEffect:
    """Later NPS of respondents with and without an episode before answering (1 and 0)."""
    exposed_moments = groups.get(1, stats.ZERO)
    unexposed_moments = groups.get(0, stats.ZERO)
    if exposed_moments.n < 2 or unexposed_moments.n < 2:
        return ExperienceEffect(
            exposed_moments.n, unexposed_moments.n,
            exposed_moments.mean if exposed_moments.n else None,
            unexposed_moments.mean if unexposed_moments.n else None,
            None, None, None, None, None, None,
        )  # fmt: skip
    first = stats.mean_estimate(exposed_moments)
    second = stats.mean_estimate(unexposed_moments)
    difference = first.value - second.value
    standard_error = math.hypot(first.standard_error, second.standard_error)
    return ExperienceEffect(
        exposed_n=exposed_moments.n,
        unexposed_n=unexposed_moments.n,
        exposed_mean=first.value,
        unexposed_mean=second.value,
        mean_difference=difference,
        ci_low=difference - stats.Z_95 * standard_error,
        ci_high=difference + stats.Z_95 * standard_error,
        p_value=stats.difference_p_value(first, second),
        exposed_nps=stats.nps_estimate(exposed_moments).value,
        unexposed_nps=stats.nps_estimate(unexposed_moments).value,
    )


def _affected(
    session: Session, departments: list[str], query: CoordinationQuery
) -> tuple[date | None, list[AffectedStakeholder]]:
    """Stakeholders in an episode in the D days up to ``as_of``, most departments first."""
    as_of = query.as_of
    if as_of is None:
        interactions = table("interactions")
        latest = fetch(session, interactions.aggregate(latest=interactions.occurred_at.max()))
        as_of = as_date(latest[0]["latest"]) if latest else None
    if as_of is None:
        return None, []
    end = datetime.combine(as_of + timedelta(days=1), time.min)
    start = end - timedelta(days=query.window_days)
    # A contact's episode state depends only on the D days before it: only those are scanned.
    flagged = episode_contacts(departments, query, since=start - timedelta(days=query.window_days))
    recent = flagged.filter(
        flagged.occurred_at >= ibis.literal(start), flagged.occurred_at < ibis.literal(end)
    )
    per_stakeholder = recent.group_by("stakeholder_id").aggregate(
        departments=recent.departments_in_window.max(),
        last_contact=recent.occurred_at.max(),
        episode_started=recent.occurred_at.min(),
    )
    contacts = outbound(query, dated=False)
    window_contacts = contacts.filter(
        contacts.occurred_at >= ibis.literal(start), contacts.occurred_at < ibis.literal(end)
    )
    counts = window_contacts.group_by(w_stakeholder="stakeholder_id").aggregate(
        contacts=window_contacts.count()
    )
    stakeholders = table("stakeholders")
    people = stakeholders.select(
        s_id=stakeholders.id,
        s_name=stakeholders.display_name,
        s_type=stakeholders.type,
        s_country=stakeholders.country_code,
    )
    # A list of named people at risk is profiling: people who object (GDPR Art. 21) are left
    # out before the top N is taken, so the list stays full.
    objectors = sorted(objecting(session))
    if objectors:
        people = people.filter(~people.s_id.isin(objectors))
    ranked = (
        per_stakeholder.join(counts, per_stakeholder.stakeholder_id == counts.w_stakeholder)
        .join(people, per_stakeholder.stakeholder_id == people.s_id)
        .order_by(ibis.desc("departments"), ibis.desc("contacts"), ibis.asc("stakeholder_id"))
        .limit(query.top)
    )
    affected = []
    for row in fetch(session, ranked):
        affected.append(
            AffectedStakeholder(
                stakeholder_id=int(row["stakeholder_id"]),
                name=row["s_name"],
                stakeholder_type=row["s_type"],
                country=row["s_country"],
                departments=int(row["departments"]),
                contacts=int(row["contacts"]),
                episode_started=as_datetime(row["episode_started"]),
                last_contact=as_datetime(row["last_contact"]),
            )
        )
    return as_of, affected


def coordination_for_viewer(
    session: Session,
    principal: Principal,
    query: CoordinationQuery,
    cache: ReportCache | None = None,
) -> CoordinationReport:
    """The report as ``principal`` may see it: the named list only with record access, shielded
    (and its reads audited) by ``cpxm.access`` also when the report comes from ``cache``."""
    include_affected = principal.can_see(Domain.COMMERCIAL)

    def compute() -> CoordinationReport:
        return coordination_report(session, query, include_affected=include_affected)

    report = (
        cache.get(session, ("coordination", query, include_affected), compute)
        if cache is not None
        else compute()
    )
    if not report.affected:
        return report
    # A cached report may predate an objection: ask again who may be profiled now.
    listed = [row.stakeholder_id for row in report.affected if row.stakeholder_id is not None]
    allowed = permitted(session, listed, purpose="profiling")
    affected = shield_analytics_rows(
        session,
        principal,
        [row for row in report.affected if row.stakeholder_id in allowed],
        comment_field=None,
        via="analytics coordination list",
    )
    return replace(report, affected=affected)
