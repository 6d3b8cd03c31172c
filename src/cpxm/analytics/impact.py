"""Impact: how experience moves the business KPIs imported into ``kpi_values``.

Per stakeholder, the experience score is the mean answer to the chosen metric (NPS 0-10, CSAT
1-5, CES 1-7) in the chosen dates, and the KPI is the mean value per period of the KPI over the
periods that start on or after that stakeholder's first answer (experience first, then the
business). The database reduces these pairs to the sums a regression needs; the slope says how
much the KPI moves per point of the score, with its interval. Promoters, passives and
detractors are compared on the same KPI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import ibis
import ibis.expr.types as ir
from sqlalchemy.orm import Session

from cpxm.access import cells
from cpxm.analytics import stats
from cpxm.analytics.coordination import _stakeholder_filter
from cpxm.analytics.facts import EMPLOYEE_SURVEY_KINDS, Slice, score_answers, validate_slice
from cpxm.analytics.query import fetch, table
from cpxm.errors import FieldError, field_error
from cpxm.surveys.models import SCORE_SCALES

IMPACT_METRICS = ("nps", "csat", "ces")


@dataclass(frozen=True)
class ImpactQuery:
    kpi: str | None = None  # default: the KPI with most stakeholder-level values
    metric: str = "nps"
    slice: Slice = field(default_factory=Slice)
    min_n: int = 30


@dataclass(frozen=True)
class KpiGroup:
    group: str  # promoters, passives, detractors (NPS) or satisfied / not (CSAT, CES)
    stakeholders: int
    mean_kpi: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class ImpactReport:
    query: ImpactQuery
    kpi: str | None
    unit: str | None
    kpis: list[str]
    stakeholders: int
    slope: float | None  # KPI units per point of the score
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    r_squared: float | None
    intercept: float | None
    mean_score: float | None
    mean_kpi: float | None
    groups: list[KpiGroup]


def available_kpis(session: Session) -> list[tuple[str, int]]:
    """KPIs with values for individual stakeholders, most values first."""
    values = table("kpi_values")
    linked = values.filter(values.stakeholder_id.notnull())
    counted = (
        linked.group_by("kpi")
        .aggregate(values=linked.count())
        .order_by(ibis.desc("values"), ibis.asc("kpi"))
    )
    return [(row["kpi"], int(row["values"])) for row in fetch(session, counted)]


def _pairs(query: ImpactQuery, kpi: str) -> ir.Table:
    low, high = SCORE_SCALES[query.metric]
    answers = score_answers(
        question_types=(query.metric,),
        value_range=(float(low), float(high)),
        slice_=query.slice,
        exclude_survey_kinds=EMPLOYEE_SURVEY_KINDS,
    )
    answers = answers.filter(answers.stakeholder_id.notnull())
    experience = answers.group_by(e_stakeholder=answers.stakeholder_id).aggregate(
        score=answers.value.mean(), first_answer=answers.answered_at.min()
    )
    values = table("kpi_values")
    kpi_rows = values.filter(values.kpi == kpi, values.stakeholder_id.notnull()).select(
        k_stakeholder=values.stakeholder_id,
        k_start=values.period_start.cast("timestamp"),
        k_value=values.value,
    )
    after = experience.join(
        kpi_rows,
        [
            experience.e_stakeholder == kpi_rows.k_stakeholder,
            kpi_rows.k_start >= experience.first_answer.truncate("D"),
        ],
    )
    per_stakeholder = after.group_by(stakeholder_id=after.e_stakeholder).aggregate(
        score=after.score.max(), kpi=after.k_value.mean()
    )
    return _stakeholder_filter(per_stakeholder, Slice(_stakeholder_filters(query.slice)))


def _stakeholder_filters(slice_: Slice) -> tuple[tuple[str, str], ...]:
    # score_answers already applied every filter to the answers; stakeholder filters are
    # re-applied only so a stakeholder's KPI rows follow the same people.
    return tuple(
        (dimension, value)
        for dimension, value in slice_.filters
        if dimension in ("stakeholder_type", "country", "specialty")
    )


def impact_report(session: Session, query: ImpactQuery) -> ImpactReport:
    query = replace(query, min_n=cells.floor(session, query.min_n))
    if query.metric not in IMPACT_METRICS:
        raise FieldError(
            [field_error("metric", f"one of {', '.join(IMPACT_METRICS)}", query.metric)]
        )
    validate_slice(session, query.slice)
    kpis = available_kpis(session)
    names = [name for name, _ in kpis]
    kpi = query.kpi or (names[0] if names else None)
    if kpi is None:
        return ImpactReport(
            query, None, None, [], 0, None, None, None, None, None, None, None, None, []
        )
    if kpi not in names:
        raise FieldError(
            [field_error("kpi", f"no stakeholder-level values; available: {', '.join(names)}",
                         kpi, kind="unknown_code")]
        )  # fmt: skip
    pairs = _pairs(query, kpi)
    (row,) = fetch(
        session,
        pairs.aggregate(
            n=pairs.count(),
            sx=pairs.score.sum(),
            sy=pairs.kpi.sum(),
            sxx=(pairs.score * pairs.score).sum(),
            syy=(pairs.kpi * pairs.kpi).sum(),
            sxy=(pairs.score * pairs.kpi).sum(),
        ),
    )
    n = int(row["n"] or 0)
    units = table("kpi_values")
    unit_rows = fetch(
        session,
        units.filter(units.kpi == kpi, units.unit.notnull()).select("unit").distinct().limit(1),
    )
    unit = unit_rows[0]["unit"] if unit_rows else None
    groups = _groups(session, pairs, query.metric)
    if n < query.min_n:
        return ImpactReport(
            query, kpi, unit, names, n, None, None, None, None, None, None, None, None, groups
        )
    fit = stats.simple_regression(
        n, *(float(row[name] or 0.0) for name in ("sx", "sy", "sxx", "syy", "sxy"))
    )
    return ImpactReport(
        query=query,
        kpi=kpi,
        unit=unit,
        kpis=names,
        stakeholders=n,
        slope=fit.slope if fit else None,
        ci_low=fit.ci_low if fit else None,
        ci_high=fit.ci_high if fit else None,
        p_value=fit.p_value if fit else None,
        r_squared=fit.r_squared if fit else None,
        intercept=fit.intercept if fit else None,
        mean_score=float(row["sx"]) / n,
        mean_kpi=float(row["sy"]) / n,
        groups=groups,
    )


def _groups(session: Session, pairs: ir.Table, metric: str) -> list[KpiGroup]:
    if metric == "nps":
        group = ibis.cases(
            (pairs.score >= 9, "promoters"), (pairs.score <= 6, "detractors"), else_="passives"
        )
        order = ["promoters", "passives", "detractors"]
    else:
        cut = 4 if metric == "csat" else 5
        group = (pairs.score >= cut).ifelse("satisfied", "not satisfied")
        order = ["satisfied", "not satisfied"]
    grouped = pairs.group_by(group=group).aggregate(
        n=pairs.count(), total=pairs.kpi.sum(), squares=(pairs.kpi * pairs.kpi).sum()
    )
    found = {row["group"]: row for row in fetch(session, grouped)}
    result = []
    for name in order:
        row = found.get(name)
        if row is None:
            result.append(KpiGroup(name, 0, None, None, None))
            continue
        moments = stats.Moments(int(row["n"]), float(row["total"]), float(row["squares"]))
        if moments.n < 2:
            result.append(KpiGroup(name, moments.n, moments.mean, None, None))
            continue
        estimate = stats.mean_estimate(moments)
        result.append(
            KpiGroup(
                name,
                moments.n,
                estimate.value,
                estimate.ci_low if math.isfinite(estimate.ci_low) else None,
                estimate.ci_high if math.isfinite(estimate.ci_high) else None,
            )
        )
    return result
