"""Coordination: how hard the company presses on each stakeholder, "ping-pong" between
departments, what it does to later experience, and who is affected now.

A ping-pong episode is N or more distinct departments contacting one stakeholder (outbound)
within D days. It is found without a self-join: ordered by time per stakeholder, a running
maximum per department keeps the last time each department made contact, and a contact is in
an episode when at least N of those times fall in the D days up to it. Consecutive such contacts
less than D days apart are one episode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
from sqlalchemy.orm import Session

from cpxm.access import Domain, Principal, cells, shield_analytics_rows
from cpxm.access.purposes import objecting, permitted
from cpxm.analytics import stats
from cpxm.analytics.facts import (
    EMPLOYEE_SURVEY_KINDS,
    GRAINS,
    NONE_KEY,
    Slice,
    dimension_labels,
    label_for,
    validate_slice,
)
from cpxm.analytics.query import as_date, as_datetime, fetch, table
from cpxm.analytics.service import ReportCache
from cpxm.errors import FieldError, field_error

SECONDS_PER_DAY = 86_400
PRESSURE_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 9), (10, 10_000))


@dataclass(frozen=True)
class CoordinationQuery:
    min_departments: int = 3  # N
    window_days: int = 7  # D
    grain: str = "month"
    slice: Slice = field(default_factory=Slice)  # stakeholder filters and the date range
    outcome_survey: str | None = None  # default: every NPS question outside employee surveys
    as_of: date | None = None  # "now" for the affected list; default: the latest contact
    top: int = 25


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


def _outbound(query: CoordinationQuery, *, dated: bool = True) -> ir.Table:
    """Outbound contacts of the sliced stakeholders (stakeholder filters and dates only)."""
    interactions = table("interactions")
    contacts = interactions.filter(interactions.direction == "outbound").select(
        "stakeholder_id", "occurred_at", "department_code", "channel_code"
    )
    if dated and query.slice.date_from is not None:
        start = datetime.combine(query.slice.date_from, time.min)
        contacts = contacts.filter(contacts.occurred_at >= ibis.literal(start))
    if dated and query.slice.date_to is not None:
        end = datetime.combine(query.slice.date_to + timedelta(days=1), time.min)
        contacts = contacts.filter(contacts.occurred_at < ibis.literal(end))
    return _stakeholder_filter(contacts, query.slice)


def _stakeholder_filter(relation: ir.Table, slice_: Slice) -> ir.Table:
    columns = {"stakeholder_type": "type", "country": "country_code", "specialty": "specialty"}
    wanted = [(columns[d], value) for d, value in slice_.filters if d in columns]
    unsupported = [d for d, _ in slice_.filters if d not in columns]
    if unsupported:
        raise FieldError(
            [field_error(d, "coordination filters by stakeholder_type, country or specialty", d)
             for d in unsupported]
        )  # fmt: skip
    if not wanted:
        return relation
    stakeholders = table("stakeholders")
    chosen = stakeholders.filter(
        *[
            stakeholders[column].isnull() if value == NONE_KEY else stakeholders[column] == value
            for column, value in wanted
        ]
    ).id
    return relation.filter(relation.stakeholder_id.isin(chosen))


def _pressure(
    session: Session, contacts: ir.Table, dimension: str, grain: str, labels: dict[str, str]
) -> list[PressureRow]:
    period = contacts.occurred_at.truncate(GRAINS[grain])
    per_pair = contacts.group_by(
        key=contacts[dimension], stakeholder_id=contacts.stakeholder_id, period=period
    ).aggregate(contacts=contacts.count())
    summary = per_pair.group_by("key").aggregate(
        contacts=per_pair.contacts.sum(),
        stakeholders=per_pair.stakeholder_id.nunique(),
        pairs=per_pair.count(),
    )
    rows = [
        PressureRow(
            key=row["key"],
            label=label_for(labels, row["key"]),
            contacts=int(row["contacts"]),
            stakeholders=int(row["stakeholders"]),
            stakeholder_periods=int(row["pairs"]),
            contacts_per_stakeholder_period=int(row["contacts"]) / int(row["pairs"]),
        )
        for row in fetch(session, summary)
    ]
    return sorted(rows, key=lambda row: -(row.contacts or 0))


def _distribution(session: Session, contacts: ir.Table, grain: str) -> list[tuple[str, int]]:
    period = contacts.occurred_at.truncate(GRAINS[grain])
    per_pair = contacts.group_by(stakeholder_id=contacts.stakeholder_id, period=period).aggregate(
        contacts=contacts.count()
    )
    bucket = ibis.cases(
        *[
            (per_pair.contacts.between(low, high), f"{low}" if low == high else f"{low}-{high}")
            for low, high in PRESSURE_BUCKETS[:-1]
        ],
        else_=f"{PRESSURE_BUCKETS[-1][0]}+",
    )
    counted = per_pair.group_by(bucket=bucket).aggregate(pairs=per_pair.count())
    found = {row["bucket"]: int(row["pairs"]) for row in fetch(session, counted)}
    labels = [f"{low}" if low == high else f"{low}-{high}" for low, high in PRESSURE_BUCKETS[:-1]]
    labels.append(f"{PRESSURE_BUCKETS[-1][0]}+")
    return [(label, found.get(label, 0)) for label in labels]


def episode_contacts(
    departments: list[str], query: CoordinationQuery, *, since: datetime | None = None
) -> ir.Table:
    """Outbound contacts with ``in_episode`` (>= N departments in the D days up to it),
    ``departments_in_window`` and ``episode_start`` (1 where a new episode begins)."""
    contacts = _outbound(query, dated=False)
    if since is not None:
        contacts = contacts.filter(contacts.occurred_at >= ibis.literal(since))
    epoch = contacts.occurred_at.epoch_seconds()
    history = ibis.window(
        group_by=contacts.stakeholder_id, order_by=contacts.occurred_at, rows=(None, 0)
    )
    latest = {
        f"last_{index}": (contacts.department_code == department)
        .ifelse(epoch, ibis.null("int64"))
        .max()
        .over(history)
        for index, department in enumerate(departments)
    }
    with_latest = contacts.mutate(epoch=epoch, **latest)
    horizon = with_latest.epoch - query.window_days * SECONDS_PER_DAY
    in_window = sum(
        (
            (
                with_latest[f"last_{index}"].notnull() & (with_latest[f"last_{index}"] > horizon)
            ).ifelse(1, 0)
            for index in range(len(departments))
        ),
        ibis.literal(0),
    )
    counted = with_latest.select(
        "stakeholder_id", "occurred_at", "epoch", departments_in_window=in_window
    )
    flagged = counted.filter(counted.departments_in_window >= query.min_departments)
    previous = flagged.epoch.lag().over(
        ibis.window(group_by=flagged.stakeholder_id, order_by=flagged.occurred_at)
    )
    return flagged.mutate(
        episode_start=(
            previous.isnull() | (flagged.epoch - previous > query.window_days * SECONDS_PER_DAY)
        ).ifelse(1, 0)
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
    contacts = _outbound(query)
    by_department = _pressure(
        session, contacts, "department_code", query.grain, dimension_labels(session, "department")
    )
    by_channel = _pressure(
        session, contacts, "channel_code", query.grain, dimension_labels(session, "channel")
    )
    contacted = _count_distinct_stakeholders(session, contacts)

    dated = _dated(episode_contacts(departments, query), query.slice)
    starts = dated.filter(dated.episode_start == 1)
    per_stakeholder_period = starts.group_by(
        stakeholder_id=starts.stakeholder_id,
        period=starts.occurred_at.truncate(GRAINS[query.grain]),
    ).aggregate(episodes=starts.count())
    # One pass of the window query; totals and the per-period series are sums of its rows.
    episode_rows = fetch(session, per_stakeholder_period)
    per_period: dict[str, int] = {}
    for row in episode_rows:
        period = str(as_date(row["period"]))
        per_period[period] = per_period.get(period, 0) + int(row["episodes"])
    episodes_by_period = sorted(per_period.items())
    totals = {
        "episodes": sum(per_period.values()),
        "stakeholders": len({row["stakeholder_id"] for row in episode_rows}),
    }
    effect = _effect(session, departments, query)
    as_of, affected = _affected(session, departments, query) if include_affected else (None, [])
    # No figure about fewer people than the workspace's minimum cell size, with complements
    # (cpxm.access.cells): totals are shown beside every one of these breakdowns.
    floor = cells.min_cell_size(session)
    if 0 < min(effect.exposed_n, effect.unexposed_n) < floor:
        effect = ExperienceEffect(
            effect.exposed_n, effect.unexposed_n, *([None] * (len(fields(effect)) - 2))
        )
    return CoordinationReport(
        query=query,
        by_department=_small_rows_hidden(by_department, floor),
        by_channel=_small_rows_hidden(by_channel, floor),
        distribution=_small_cells_hidden(_distribution(session, contacts, query.grain), floor),
        episodes=int(totals["episodes"] or 0),
        stakeholders_with_episodes=int(totals["stakeholders"] or 0),
        stakeholders_contacted=contacted,
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


def _dated(relation: ir.Table, slice_: Slice) -> ir.Table:
    if slice_.date_from is not None:
        start = datetime.combine(slice_.date_from, time.min)
        relation = relation.filter(relation.occurred_at >= ibis.literal(start))
    if slice_.date_to is not None:
        end = datetime.combine(slice_.date_to + timedelta(days=1), time.min)
        relation = relation.filter(relation.occurred_at < ibis.literal(end))
    return relation


def _effect(session: Session, departments: list[str], query: CoordinationQuery) -> ExperienceEffect:
    """NPS answers split by whether >= N departments contacted the respondent in the D days
    before the response started (the demo manifest's definition)."""
    answers = table("answers")
    questions = table("questions")
    responses = table("responses")
    surveys = table("surveys")
    nps_questions = questions.filter(questions.question_type == "nps")
    if query.outcome_survey is not None:
        chosen = surveys.filter(surveys.code == query.outcome_survey).id
    else:
        chosen = surveys.filter(~surveys.kind.isin(EMPLOYEE_SURVEY_KINDS)).id
    nps_questions = nps_questions.filter(nps_questions.survey_id.isin(chosen))
    complete = responses.filter(
        responses.status == "complete", responses.stakeholder_id.notnull()
    ).select(
        r_id=responses.id, r_stakeholder=responses.stakeholder_id, r_started=responses.started_at
    )
    valid = answers.filter(
        answers.question_id.isin(nps_questions.id), answers.value_number.between(0, 10)
    ).select(response_id=answers.response_id, score=answers.value_number)
    scored = valid.join(complete, valid.response_id == complete.r_id)
    scored = _stakeholder_filter(scored.rename(stakeholder_id="r_stakeholder"), query.slice)
    scored = _dated(scored.mutate(occurred_at=scored.r_started), query.slice)
    outbound = _outbound(query, dated=False)
    contacts = outbound.select(
        c_stakeholder=outbound.stakeholder_id,
        c_at=outbound.occurred_at,
        c_department=outbound.department_code,
        c_epoch=outbound.occurred_at.epoch_seconds(),
    )
    response_epoch = scored.r_started.epoch_seconds()
    scored = scored.mutate(r_epoch=response_epoch)
    window = query.window_days * SECONDS_PER_DAY
    paired = scored.left_join(
        contacts,
        [
            scored.stakeholder_id == contacts.c_stakeholder,
            # Implied by the next line; as a plain comparison it lets the (stakeholder,
            # occurred_at) index skip the contacts after the answer.
            contacts.c_at < scored.r_started,
            contacts.c_epoch < scored.r_epoch,
            contacts.c_epoch >= scored.r_epoch - window,
        ],
    )
    per_response = paired.group_by("response_id", "score").aggregate(
        departments=paired.c_department.nunique()
    )
    exposed = (per_response.departments >= query.min_departments).ifelse(1, 0)
    summary = per_response.group_by(exposed=exposed).aggregate(
        n=per_response.count(),
        total=per_response.score.sum(),
        total_squares=(per_response.score * per_response.score).sum(),
        promoters=(per_response.score >= 9).ifelse(1, 0).sum(),
        detractors=(per_response.score <= 6).ifelse(1, 0).sum(),
    )
    groups = {
        int(row["exposed"]): stats.Moments(
            n=int(row["n"]),
            total=float(row["total"]),
            total_squares=float(row["total_squares"]),
            promoters=int(row["promoters"]),
            detractors=int(row["detractors"]),
        )
        for row in fetch(session, summary)
    }
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
    contacts = _outbound(query, dated=False)
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
