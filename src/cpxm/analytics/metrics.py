"""Experience metrics: NPS, CSAT, CES and any rating, by segment and over time, with intervals,
response rates, significance corrected for many comparisons, and small samples suppressed.

The database reduces answers to sufficient statistics per group (n, sum, sum of squares,
promoters, detractors, top box); intervals and tests are computed here from those few rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache

import ibis
import ibis.expr.types as ir
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import cells
from cpxm.access.confidential import refuse_confidential_figures
from cpxm.analytics import stats
from cpxm.analytics.facts import (
    DIMENSIONS,
    EMPLOYEE_SURVEY_KINDS,
    GRAINS,
    Slice,
    dimension_labels,
    invitations_sent,
    label_for,
    period_start,
    score_answers,
    validate_slice,
)
from cpxm.analytics.query import as_date, compile_sql, dialect_of, fetch, fetch_sql, table
from cpxm.errors import FieldError, field_error
from cpxm.surveys.models import SCORE_SCALES, Question

METRICS = ("nps", "csat", "ces", "rating")
DEFAULT_MIN_N = 30
OVERALL = "all"


@dataclass(frozen=True)
class MetricQuery:
    """What to measure (a score type, or one rating question) and how to cut it."""

    metric: str = "nps"
    question_id: int | None = None  # required for "rating"; narrows nps/csat/ces to one question
    segment: str | None = None  # a dimension in DIMENSIONS
    grain: str | None = None  # week, month or quarter
    slice: Slice = field(default_factory=Slice)
    min_n: int = DEFAULT_MIN_N
    correction: str = "holm"  # holm or bh
    alpha: float = 0.05


@dataclass(frozen=True)
class MetricCell:
    """One figure: the score of a segment, a period, or everyone, and how it compares."""

    key: str
    label: str
    n: int
    suppressed: bool  # fewer than min_n answers: no score is shown
    value: float | None
    ci_low: float | None
    ci_high: float | None
    mean: float | None
    promoters_percent: float | None = None
    detractors_percent: float | None = None
    invitations: int | None = None
    response_rate: float | None = None  # percent of sent invitations with a complete response
    compared_with: str | None = None  # "rest of the workspace" or the previous period's key
    difference: float | None = None
    p_value: float | None = None
    adjusted_p: float | None = None
    significant: bool = False


@dataclass(frozen=True)
class MetricReport:
    query: MetricQuery
    metric_label: str
    unit: str  # how the value reads: "points", "% satisfied (4-5)", "mean 1-7"
    scale: tuple[float, float]
    overall: MetricCell
    segments: list[MetricCell]
    trend: list[MetricCell]
    comparisons: int  # how many tests the correction covered


def validate_query(session: Session, query: MetricQuery) -> tuple[float, float]:
    """Check the query and return the answer scale; errors name the field and what is allowed."""
    errors = []
    if query.metric not in METRICS:
        errors.append(
            field_error("metric", f"unknown metric; allowed: {', '.join(METRICS)}", query.metric)
        )
    if query.segment is not None and query.segment not in DIMENSIONS:
        errors.append(
            field_error(
                "segment", f"unknown segment; allowed: {', '.join(DIMENSIONS)}", query.segment
            )
        )
    if query.grain is not None and query.grain not in GRAINS:
        errors.append(
            field_error("grain", f"unknown grain; allowed: {', '.join(GRAINS)}", query.grain)
        )
    if query.correction not in stats.CORRECTIONS:
        errors.append(
            field_error("correction", "unknown correction; allowed: holm, bh", query.correction)
        )
    if not 0 < query.alpha < 1:
        errors.append(field_error("alpha", "alpha must be between 0 and 1", query.alpha))
    if query.min_n < 1:
        errors.append(field_error("min_n", "min_n must be at least 1", query.min_n))
    scale: tuple[float, float] = (0.0, 10.0)
    if query.metric in SCORE_SCALES:
        low, high = SCORE_SCALES[query.metric]
        scale = (float(low), float(high))
    if query.metric == "rating" and query.question_id is None:
        errors.append(
            field_error("question_id", "a rating metric needs question_id", None, kind="missing")
        )
    if query.question_id is not None:
        question = _question(session, query.question_id)
        if question is None:
            errors.append(
                field_error("question_id", "no such question", query.question_id, kind="not_found")
            )
        else:
            question_type, options = question
            if query.metric == "rating":
                scale = _rating_scale(options)
                if question_type not in ("rating", "prem", "nps", "csat", "ces"):
                    errors.append(
                        field_error(
                            "question_id",
                            f"question {query.question_id} is a {question_type} question, "
                            "not a rating",
                            query.question_id,
                        )
                    )
            elif question_type != query.metric:
                errors.append(
                    field_error(
                        "question_id",
                        f"question {query.question_id} is {question_type}, not {query.metric}",
                        query.question_id,
                    )
                )
    if errors:
        raise FieldError(errors)
    validate_slice(session, query.slice)
    return scale


def _question(session: Session, question_id: int) -> tuple[str, dict[str, object]] | None:
    # Core, two columns: the ORM's JSON type reads ``options`` the same way on both engines.
    row = session.execute(
        select(Question.question_type, Question.options).where(Question.id == question_id)
    ).first()
    if row is None:
        return None
    return row.question_type, dict(row.options or {})


def _rating_scale(options: dict[str, object]) -> tuple[float, float]:
    low, high = options.get("min", 1), options.get("max", 5)
    return (
        float(low) if isinstance(low, int | float) else 1.0,
        float(high) if isinstance(high, int | float) else 5.0,
    )


def answers_for(
    query: MetricQuery, scale: tuple[float, float], dimensions: tuple[str, ...]
) -> ir.Table:
    """The valid answers behind a metric, with the dimensions asked for."""
    question_types = () if query.metric == "rating" else (query.metric,)
    # A score type across surveys leaves the employee pulse out unless a survey or question
    # is chosen.
    chosen = query.question_id is not None or query.slice.needs(("survey",))
    return score_answers(
        question_types=question_types,
        question_id=query.question_id,
        value_range=scale,
        slice_=query.slice,
        dimensions=dimensions,
        exclude_survey_kinds=() if chosen else EMPLOYEE_SURVEY_KINDS,
    )


def _moments_expression(answers: ir.Table, keys: dict[str, ir.Value]) -> ir.Table:
    value = answers.value
    metrics = {
        "n": answers.count(),
        "total": value.sum(),
        "total_squares": (value * value).sum(),
        "promoters": (value >= 9).ifelse(1, 0).sum(),
        "detractors": (value <= 6).ifelse(1, 0).sum(),
        "top_box": (value >= 4).ifelse(1, 0).sum(),
    }
    if keys:
        return answers.group_by(**keys).aggregate(**metrics)
    return answers.aggregate(**metrics)


def _moments(row: dict[str, object]) -> stats.Moments:
    def number(name: str) -> float:
        raw = row.get(name)
        return float(raw) if isinstance(raw, int | float) else 0.0

    return stats.Moments(
        n=int(number("n")),
        total=number("total"),
        total_squares=number("total_squares"),
        promoters=int(number("promoters")),
        detractors=int(number("detractors")),
        top_box=int(number("top_box")),
    )


def estimate(metric: str, moments: stats.Moments) -> stats.Estimate:
    """NPS in points, CSAT as % satisfied (4-5 of 5), CES and ratings as a mean."""
    if metric == "nps":
        return stats.nps_estimate(moments)
    if metric == "csat":
        return stats.share_estimate(moments.top_box, moments.n)
    return stats.mean_estimate(moments)


def _cell(
    query: MetricQuery, key: str, label: str, moments: stats.Moments
) -> tuple[MetricCell, stats.Estimate | None]:
    if moments.n < query.min_n or moments.n == 0:
        return MetricCell(key, label, moments.n, True, None, None, None, None), None
    result = estimate(query.metric, moments)
    nps = query.metric == "nps"
    cell = MetricCell(
        key=key,
        label=label,
        n=moments.n,
        suppressed=False,
        value=result.value,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        mean=moments.mean,
        promoters_percent=100 * moments.promoters / moments.n if nps else None,
        detractors_percent=100 * moments.detractors / moments.n if nps else None,
    )
    return cell, result


@dataclass(frozen=True)
class _Statements:
    """The SQL of one metric report, for one dialect."""

    segments: str | None
    overall: str | None
    trend: str | None
    rates: str


@lru_cache(maxsize=512)
def _statements(query: MetricQuery, scale: tuple[float, float], dialect: str) -> _Statements:
    # Building and hashing the Ibis expressions costs tens of milliseconds per view, whatever
    # the data's size; the SQL depends only on the query, so it is built once per process.
    dimensions = (query.segment,) if query.segment else ()
    answers = answers_for(query, scale, dimensions)
    segments = overall = trend = None
    if query.segment:
        segments = compile_sql(
            _moments_expression(answers, {"key": answers[query.segment]}), dialect
        )
    elif not query.grain:
        # With a grain and no segment, the periods partition the answers: their sums are the
        # overall figure, so it costs no query of its own.
        overall = compile_sql(_moments_expression(answers, {}), dialect)
    if query.grain:
        by_period = _moments_expression(
            answers, {"key": period_start(answers.answered_at, query.grain)}
        )
        trend = compile_sql(by_period, dialect)
    return _Statements(segments, overall, trend, _response_rates_sql(query, dialect))


def metric_report(session: Session, query: MetricQuery) -> MetricReport:
    """The metric overall, by ``query.segment`` (each against the rest) and by ``query.grain``
    (each period against the one before), with response rates per segment.

    Cells are computed with at least the workspace's minimum cell size, whatever the query asks
    (``cpxm.access.cells``), and enough cells are hidden that a small one cannot be recovered from
    the total shown beside them."""
    query = replace(query, min_n=cells.floor(session, query.min_n))
    scale = validate_query(session, query)
    refuse_confidential_figures(
        session, survey_codes=query.slice.values("survey"), question_id=query.question_id
    )
    statements = _statements(query, scale, dialect_of(session))

    segment_rows: list[dict[str, object]] = []
    if statements.segments is not None:
        segment_rows = fetch_sql(session, statements.segments)
    overall_moments = sum((_moments(row) for row in segment_rows), stats.ZERO)
    if statements.overall is not None:
        overall_moments = _moments(fetch_sql(session, statements.overall)[0])
    trend_rows: list[dict[str, object]] = []
    if statements.trend is not None:
        trend_rows = fetch_sql(session, statements.trend)
        if statements.segments is None and statements.overall is None:
            overall_moments = sum((_moments(row) for row in trend_rows), stats.ZERO)

    rates = _response_rates(session, query, statements.rates)
    overall, overall_estimate = _cell(query, OVERALL, "All", overall_moments)
    overall = _with_rate(overall, rates.get(OVERALL))

    labels = dimension_labels(session, query.segment) if query.segment else {}
    tests: list[tuple[str, int, float, float]] = []  # (table, index, difference, p)
    segments: list[MetricCell] = []
    # Largest first, ties by key: the same order whichever engine returned the rows.
    for row in sorted(segment_rows, key=lambda row: (-int(str(row["n"])), str(row["key"]))):
        key = str(row["key"])
        moments = _moments(row)
        cell, own = _cell(query, key, label_for(labels, key), moments)
        cell = _with_rate(cell, rates.get(key))
        rest = overall_moments - moments
        if own is not None and rest.n >= query.min_n:
            other = estimate(query.metric, rest)
            tests.append(
                ("segments", len(segments), own.value - other.value,
                 stats.difference_p_value(own, other))
            )  # fmt: skip
            cell = replace(cell, compared_with="rest")
        segments.append(cell)

    trend: list[MetricCell] = []
    previous: tuple[str, stats.Estimate] | None = None
    for row in sorted(trend_rows, key=lambda row: str(as_date(row["key"]))):  # type: ignore[arg-type]
        key = str(as_date(row["key"]))  # type: ignore[arg-type]
        cell, own = _cell(query, key, key, _moments(row))
        if own is not None:
            if previous is not None:
                tests.append(
                    ("trend", len(trend), own.value - previous[1].value,
                     stats.difference_p_value(own, previous[1]))
                )  # fmt: skip
                cell = replace(cell, compared_with=previous[0])
            previous = (key, own)
        trend.append(cell)

    adjusted = stats.CORRECTIONS[query.correction]([p for *_, p in tests])
    for (table_name, index, difference, p_value), adjusted_p in zip(tests, adjusted, strict=True):
        target = segments if table_name == "segments" else trend
        target[index] = replace(
            target[index],
            difference=difference,
            p_value=p_value,
            adjusted_p=adjusted_p,
            significant=adjusted_p < query.alpha,
        )
    del overall_estimate
    # Cells too small to show people (below the workspace's minimum cell size) are hidden with
    # complements; cells only too small for a reliable score (below min_n) need none.
    floor = cells.min_cell_size(session)
    segments = _complementary(segments, floor, total_shown=not overall.suppressed)
    trend = _complementary(trend, floor, total_shown=not overall.suppressed)
    return MetricReport(
        query=query,
        metric_label=_metric_label(session, query),
        unit=_unit(query.metric, scale),
        scale=scale,
        overall=overall,
        segments=segments,
        trend=trend,
        comparisons=len(tests),
    )


def _complementary(row: list[MetricCell], min_n: int, *, total_shown: bool) -> list[MetricCell]:
    hidden = cells.complementary(
        [cell.n for cell in row],
        min_n=min_n,
        total_shown=total_shown,
        already_hidden={index for index, cell in enumerate(row) if cell.suppressed},
    )
    return [
        MetricCell(cell.key, cell.label, cell.n, True, None, None, None, None)
        if index in hidden
        else cell
        for index, cell in enumerate(row)
    ]


def _with_rate(cell: MetricCell, rate: tuple[int, int] | None) -> MetricCell:
    if rate is None or rate[0] == 0:
        return cell
    invitations, responded = rate
    return replace(cell, invitations=invitations, response_rate=100 * responded / invitations)


def _response_rates_sql(query: MetricQuery, dialect: str) -> str:
    """Sent invitations and completed responses per segment key (or in all), for the surveys
    that ask the metric's question."""
    questions = table("questions")
    if query.question_id is not None:
        asked = questions.filter(questions.id == query.question_id)
    else:
        asked = questions.filter(questions.question_type == query.metric)
        if not query.slice.needs(("survey",)):
            surveys = table("surveys")
            excluded = surveys.filter(surveys.kind.isin(EMPLOYEE_SURVEY_KINDS)).id
            asked = asked.filter(~asked.survey_id.isin(excluded))
    dimensions = (query.segment,) if query.segment else ()
    invitations = invitations_sent(
        survey_ids=asked.survey_id, slice_=query.slice, dimensions=dimensions
    )
    metrics = {"invitations": invitations.count(), "responded": invitations.responded.sum()}
    if query.segment:
        grouped = invitations.group_by(key=invitations[query.segment]).aggregate(**metrics)
        return compile_sql(grouped, dialect)
    return compile_sql(invitations.aggregate(**metrics), dialect)


def _response_rates(session: Session, query: MetricQuery, sql: str) -> dict[str, tuple[int, int]]:
    """Sent invitations and completed responses per segment key, and OVERALL."""
    rates: dict[str, tuple[int, int]] = {}
    if query.segment:
        for row in fetch_sql(session, sql):
            rates[str(row["key"])] = (int(row["invitations"]), int(row["responded"] or 0))
        rates[OVERALL] = (
            sum(invited for invited, _ in rates.values()),
            sum(responded for _, responded in rates.values()),
        )
    else:
        (row,) = fetch_sql(session, sql)
        rates[OVERALL] = (int(row["invitations"]), int(row["responded"] or 0))
    return rates


def _metric_label(session: Session, query: MetricQuery) -> str:
    base = {"nps": "NPS", "csat": "CSAT", "ces": "CES", "rating": "Rating"}[query.metric]
    if query.question_id is None:
        return base
    questions = table("questions")
    surveys = table("surveys")
    named = (
        questions.filter(questions.id == query.question_id)
        .join(surveys, questions.survey_id == surveys.id)
        .select(code=questions.code, survey=surveys.name)
    )
    rows = fetch(session, named)
    return f"{base}: {rows[0]['survey']} / {rows[0]['code']}" if rows else base


def _unit(metric: str, scale: tuple[float, float]) -> str:
    if metric == "nps":
        return "NPS points (-100 to +100)"
    if metric == "csat":
        return "% satisfied (4-5 of 5)"
    return f"mean ({scale[0]:g}-{scale[1]:g})"


def rating_questions(session: Session) -> list[dict[str, object]]:
    """Every numeric question a user can pick as a metric, with its survey."""
    questions = table("questions")
    surveys = table("surveys")
    expression = (
        questions.filter(questions.question_type.isin(("nps", "csat", "ces", "rating")))
        .join(surveys, questions.survey_id == surveys.id)
        .select(
            id=questions.id,
            code=questions.code,
            question_type=questions.question_type,
            prompt=questions.prompt,
            survey=surveys.code,
            survey_name=surveys.name,
        )
        .order_by(ibis.asc("survey"), ibis.asc("id"))
    )
    return fetch(session, expression)


def parse_filters(raw: list[str]) -> tuple[tuple[str, str], ...]:
    """``dimension:value`` strings from a query string into filter pairs."""
    pairs = []
    for item in raw:
        dimension, separator, value = item.partition(":")
        if not separator or not value:
            raise FieldError(
                [field_error("filter", "a filter reads dimension:value, e.g. country:DE", item)]
            )
        pairs.append((dimension, value))
    return tuple(pairs)


def period_date(key: str) -> date:
    return date.fromisoformat(key)
