"""Key drivers: which questions, touchpoints and feedback themes drive an outcome (NPS or a
rating), by Johnson's relative weights, with an importance x performance view.

A touchpoint driver is exposure before answering: 1 when the respondent had an interaction
through that department (or channel) in the ``touchpoint_days`` before the response, else 0.

The database pivots each response's answers into one row and reduces the complete rows to n,
sums and sums of cross-products; the correlation matrix, weights and the Shapley check come
from that single row.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import ibis
import ibis.expr.types as ir
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import cells
from cpxm.access.confidential import refuse_confidential_figures
from cpxm.analytics import stats
from cpxm.analytics.facts import Slice, dimension_labels, score_answers, validate_slice
from cpxm.analytics.query import SPARK_DIALECT, dialect_of, fetch, table
from cpxm.analytics.touch_summaries import (
    EXPOSURE_DAYS,
    exposed_to,
    exposure_touches,
    touch_summaries_fresh,
)
from cpxm.errors import FieldError, field_error
from cpxm.surveys.models import Question, Survey
from cpxm.web.templating import humanise

NUMERIC_TYPES = ("nps", "csat", "ces", "rating")
MAX_THEMES = 8
MIN_THEME_MENTIONS = 20
MAX_TOUCHPOINTS = 6
MIN_TOUCHPOINT_GROUP = 20  # exposed and unexposed responses each, for a touchpoint to qualify
DEFAULT_TOUCHPOINT_DAYS = EXPOSURE_DAYS
TOUCHPOINT_DIMENSIONS = ("department", "channel")
SHAPLEY_MAX_PREDICTORS = 12  # 2^12 regressions: the exact check stays under a second
DEFAULT_MIN_N = 50


@dataclass(frozen=True)
class DriverQuery:
    survey: str  # survey code
    outcome_question_id: int | None = None  # default: the survey's NPS question
    include_themes: bool = True
    include_touchpoints: bool = True
    touchpoint_days: int = DEFAULT_TOUCHPOINT_DAYS
    slice: Slice = field(default_factory=Slice)
    min_n: int = DEFAULT_MIN_N


@dataclass(frozen=True)
class Driver:
    kind: str  # question, touchpoint or theme
    code: str  # question code, theme code, or "department:<code>" / "channel:<code>"
    label: str
    weight: float  # raw relative weight: this driver's part of R^2
    importance_percent: float  # its share of the explained variance
    shapley_percent: float | None  # the same share by exact Shapley decomposition (a check)
    correlation: float  # with the outcome
    performance: float  # mean rating (questions), or % of responses exposed / mentioning
    performance_percent: float  # performance on a 0-100 scale, for the chart
    quadrant: str


@dataclass(frozen=True)
class DriverReport:
    query: DriverQuery
    survey_name: str
    outcome_label: str
    n: int  # complete responses used
    suppressed: bool
    r_squared: float | None
    drivers: list[Driver]


@dataclass(frozen=True)
class _Variable:
    column: str
    kind: str
    code: str
    label: str
    low: float
    high: float
    question_id: int | None = None
    question_type: str | None = None
    theme: str | None = None
    touchpoint: tuple[str, str] | None = None  # (dimension, code)


def _survey_questions(session: Session, survey_code: str) -> tuple[str, int, list[_Variable]]:
    survey = session.execute(
        select(Survey.id, Survey.name).where(Survey.code == survey_code)
    ).first()
    if survey is None:
        raise FieldError([field_error("survey", "no such survey", survey_code, kind="not_found")])
    rows = session.execute(
        select(
            Question.id, Question.code, Question.question_type, Question.prompt, Question.options
        )
        .where(Question.survey_id == survey.id, Question.question_type.in_(NUMERIC_TYPES))
        .order_by(Question.position)
    ).all()
    variables = []
    for row in rows:
        low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}.get(row.question_type, (1, 5))
        options = dict(row.options or {})
        if row.question_type == "rating":
            low = options.get("min", low) if isinstance(options.get("min"), int | float) else low
            high = options.get("max", high) if isinstance(options.get("max"), int | float) else high
        variables.append(
            _Variable(
                column=f"q{row.id}",
                kind="question",
                code=row.code,
                label=row.question_type.upper()
                if row.question_type in ("nps", "csat", "ces")
                else humanise(row.code),
                low=float(low),
                high=float(high),
                question_id=row.id,
                question_type=row.question_type,
            )
        )
    return survey.name, survey.id, variables


def _themes(session: Session, answers: ir.Table) -> list[_Variable]:
    """The survey's most mentioned feedback themes in the sliced responses."""
    items = table("feedback_items")
    themes = table("feedback_themes")
    responses = answers.select(r_id=answers.response_id).distinct()
    commented = items.select(f_id=items.id, f_response=items.response_id)
    joined = commented.join(themes, commented.f_id == themes.feedback_item_id).join(
        responses, commented.f_response == responses.r_id
    )
    mentions = (
        joined.group_by("theme_code")
        .aggregate(responses=joined.f_response.nunique())
        .filter(lambda t: t.responses >= MIN_THEME_MENTIONS)
        .order_by(ibis.desc("responses"), ibis.asc("theme_code"))
        .limit(MAX_THEMES)
    )
    return [
        _Variable(
            column=f"t{index}",
            kind="theme",
            code=row["theme_code"],
            label=f"Theme: {humanise(row['theme_code'])}",
            low=0.0,
            high=1.0,
            theme=row["theme_code"],
        )
        for index, row in enumerate(fetch(session, mentions))
    ]


def _exposure_flags(
    answers: ir.Table, days: int, touchpoints: list[tuple[str, str, str]], *, summarised: bool
) -> ir.Table:
    """One row per response whose respondent had any interaction in the ``days`` before
    answering (``x_response``), one 0/1 column per (column, dimension, code) touchpoint.

    ``summarised``: read from ``response_exposures`` (fresh, kept for ``EXPOSURE_DAYS``: see
    :mod:`cpxm.analytics.touch_summaries`), else from the interactions."""
    if summarised:
        # One row per response, a flag per touchpoint from its list: no pivot, no grouping.
        kept = table("response_exposures")
        return kept.select(
            x_response=kept.response_id,
            **{
                column: exposed_to(kept.touchpoints, dimension, code).ifelse(1, 0)
                for column, dimension, code in touchpoints
            },
        )
    respondents = answers.select(
        r_id=answers.response_id,
        r_stakeholder=answers.stakeholder_id,
        r_at=answers.answered_at,
        r_epoch=answers.answered_at.epoch_seconds(),
    ).distinct()
    joined = exposure_touches(respondents, days)
    return joined.group_by(x_response=joined.r_id).aggregate(
        **{
            column: (joined[f"x_{dimension}"] == code).ifelse(1, 0).max()
            for column, dimension, code in touchpoints
        }
    )


def _touchpoints(session: Session, days: int) -> list[_Variable]:
    """Every department and channel, as candidate touchpoints: ``_chosen`` keeps those whose
    exposure splits the analysed responses most evenly, from the same single query."""
    labels = {name: dimension_labels(session, name) for name in TOUCHPOINT_DIMENSIONS}
    return [
        _Variable(
            column=f"x{index}",
            kind="touchpoint",
            code=f"{dimension}:{code}",
            label=f"Contact: {labels[dimension].get(code) or humanise(code)} "
            f"({dimension}, {days} days before)",
            low=0.0,
            high=1.0,
            touchpoint=(dimension, code),
        )
        for index, (dimension, code) in enumerate(
            (dimension, code) for dimension in TOUCHPOINT_DIMENSIONS for code in labels[dimension]
        )
    ]


def _chosen(variables: list[_Variable], sums: np.ndarray, n: int) -> list[int]:
    """Indexes of the variables to model: every question and theme, and the MAX_TOUCHPOINTS
    touchpoints that split the n responses most evenly (each side at least
    MIN_TOUCHPOINT_GROUP): a touchpoint nearly everyone (or no one) met explains nothing."""
    balanced = []
    for index, variable in enumerate(variables):
        if variable.kind == "touchpoint":
            exposed = round(float(sums[index]))
            balance = min(exposed, n - exposed)
            if balance >= MIN_TOUCHPOINT_GROUP:
                balanced.append((-balance, variable.code, index))
    touchpoints = {index for _, _, index in sorted(balanced)[:MAX_TOUCHPOINTS]}
    return [
        index
        for index, variable in enumerate(variables)
        if variable.kind != "touchpoint" or index in touchpoints
    ]


def _wide(
    answers: ir.Table, variables: list[_Variable], touchpoint_days: int, *, summarised: bool
) -> ir.Table:
    """One row per response, one column per question, touchpoint and theme (the last two 0/1)."""
    questions = [variable for variable in variables if variable.kind == "question"]
    wide = answers.group_by("response_id").aggregate(
        **{
            variable.column: (answers.question_id == variable.question_id)
            .ifelse(answers.value, ibis.null("float64"))
            .max()
            for variable in questions
        }
    )
    themed = [variable for variable in variables if variable.kind == "theme"]
    if themed:
        items = table("feedback_items")
        themes = table("feedback_themes")
        commented = items.filter(items.response_id.notnull()).select(
            f_id=items.id, f_response=items.response_id
        )
        joined = commented.join(themes, commented.f_id == themes.feedback_item_id)
        flags = joined.group_by("f_response").aggregate(
            **{
                variable.column: (joined.theme_code == variable.theme).ifelse(1, 0).max()
                for variable in themed
            }
        )
        wide = wide.left_join(flags, wide.response_id == flags.f_response)
        wide = wide.select(
            "response_id",
            *[variable.column for variable in questions],
            **{variable.column: wide[variable.column].fill_null(0) for variable in themed},
        )
    touched = [variable for variable in variables if variable.kind == "touchpoint"]
    if touched:
        exposed = _exposure_flags(
            answers,
            touchpoint_days,
            [
                (variable.column, *variable.touchpoint)
                for variable in touched
                if variable.touchpoint is not None
            ],
            summarised=summarised,
        )
        kept = [variable.column for variable in variables if variable.kind != "touchpoint"]
        wide = wide.left_join(exposed, wide.response_id == exposed.x_response)
        wide = wide.select(
            *kept,
            **{variable.column: wide[variable.column].fill_null(0) for variable in touched},
        )
    complete = wide.filter(*[wide[variable.column].notnull() for variable in questions])
    return complete


def _moments(
    session: Session, wide: ir.Table, columns: list[str]
) -> tuple[int, np.ndarray, np.ndarray]:
    """n, the sums and the matrix of sums of cross-products of ``columns`` over the rows.

    On the store the rows are fetched and numpy multiplies them: PostgreSQL's aggregate ran one
    transition per cross-product and row (496 sums over 8,383 rows took it 1.1 s of a 1.3 s
    query at demo scale 1), while the rows cost a fraction of that to fetch. Spark adds them up
    itself (it would ship every row to the driver). The flags are integers and the answers
    whole numbers, so every sum is exact, whoever adds them up.
    """
    k = len(columns)
    if dialect_of(session) == SPARK_DIALECT:
        metrics: dict[str, ir.Value] = {"n": wide.count()}
        for i, first in enumerate(columns):
            metrics[f"s_{i}"] = wide[first].sum()
            for j in range(i, k):
                metrics[f"p_{i}_{j}"] = (wide[first] * wide[columns[j]]).sum()
        (row,) = fetch(session, wide.aggregate(**metrics))
        sums = np.array([float(row[f"s_{i}"] or 0.0) for i in range(k)])
        cross = np.zeros((k, k))
        for i in range(k):
            for j in range(i, k):
                cross[i, j] = cross[j, i] = float(row[f"p_{i}_{j}"] or 0.0)
        return int(row["n"] or 0), sums, cross
    rows = fetch(session, wide.select(*columns))
    matrix = np.array(
        [[row[column] for column in columns] for row in rows], dtype=np.float64
    ).reshape(len(rows), k)
    return len(rows), matrix.sum(axis=0), matrix.T @ matrix


def key_drivers(session: Session, query: DriverQuery) -> DriverReport:
    query = replace(query, min_n=cells.floor(session, query.min_n))
    """Relative weights of the survey's rating questions (and top themes) for the outcome."""
    validate_slice(session, query.slice)
    refuse_confidential_figures(
        session, survey_codes=[query.survey, *query.slice.values("survey")], question_id=None
    )
    survey_name, survey_id, questions = _survey_questions(session, query.survey)
    outcome = _outcome(questions, query)
    predictors = [variable for variable in questions if variable is not outcome]
    if not predictors:
        raise FieldError(
            [field_error("survey", "the survey has no rating questions besides the outcome",
                         query.survey)]
        )  # fmt: skip
    answers = score_answers(
        question_id=None,
        question_types=NUMERIC_TYPES,
        # By id as well as by the slice's code: the id filters the responses before the joins,
        # so other surveys' answers never enter the shared pivot (two thirds at scale 10).
        survey_id=survey_id,
        slice_=Slice(
            (*query.slice.filters, ("survey", query.survey)),
            query.slice.date_from,
            query.slice.date_to,
        ),
    )
    if query.include_touchpoints:
        predictors += _touchpoints(session, query.touchpoint_days)
    if query.include_themes:
        predictors += _themes(session, answers)
    variables = [*predictors, outcome]
    columns = [variable.column for variable in variables]
    summarised = (
        query.include_touchpoints
        and query.touchpoint_days == EXPOSURE_DAYS
        and touch_summaries_fresh(session)
    )
    wide = _wide(answers, variables, query.touchpoint_days, summarised=summarised)
    n, all_sums, all_cross = _moments(session, wide, columns)
    # One query gave every candidate's exposure and cross-products; keep the chosen ones.
    chosen = _chosen(variables, all_sums, n)
    variables = [variables[i] for i in chosen]
    if n < max(query.min_n, len(variables) + 2):
        return DriverReport(query, survey_name, outcome.label, n, True, None, [])

    k = len(variables)
    sums = all_sums[chosen]
    cross = all_cross[np.ix_(chosen, chosen)]
    variances = np.diag(cross) / n - (sums / n) ** 2
    varying = [index for index in range(k - 1) if variances[index] > 1e-12]
    if variances[-1] <= 1e-12 or not varying:
        return DriverReport(query, survey_name, outcome.label, n, True, None, [])
    keep = [*varying, k - 1]
    correlation = stats.correlation_from_moments(n, sums[keep], cross[np.ix_(keep, keep)])
    weights = stats.relative_weights(correlation)
    shapley = (
        stats.shapley_r_squared(correlation) if len(varying) <= SHAPLEY_MAX_PREDICTORS else None
    )
    r_squared = float(weights.sum())
    means = sums / n
    drivers = []
    for position, index in enumerate(varying):
        variable = variables[index]
        mean = float(means[index])
        span = variable.high - variable.low
        performance_percent = 100 * (mean - variable.low) / span if span else 0.0
        drivers.append(
            Driver(
                kind=variable.kind,
                code=variable.code,
                label=variable.label,
                weight=float(weights[position]),
                importance_percent=100 * float(weights[position]) / r_squared if r_squared else 0.0,
                shapley_percent=100 * float(shapley[position]) / r_squared
                if shapley is not None and r_squared
                else None,
                correlation=float(correlation[position, -1]),
                performance=mean if variable.kind == "question" else 100 * mean,
                performance_percent=performance_percent,
                quadrant="",
            )
        )
    drivers = _with_quadrants(drivers)
    drivers.sort(key=lambda driver: -driver.weight)
    return DriverReport(query, survey_name, outcome.label, n, False, r_squared, drivers)


def _outcome(questions: list[_Variable], query: DriverQuery) -> _Variable:
    if query.outcome_question_id is not None:
        for variable in questions:
            if variable.question_id == query.outcome_question_id:
                return variable
        raise FieldError(
            [field_error("outcome_question_id", "not a numeric question of this survey",
                         query.outcome_question_id)]
        )  # fmt: skip
    # Default: the survey's NPS question, else its CSAT, else its CES.
    for code_type in ("nps", "csat", "ces"):
        for variable in questions:
            if variable.question_type == code_type:
                return variable
    raise FieldError(
        [field_error("outcome_question_id", "the survey has no NPS, CSAT or CES question; "
                     "choose an outcome", None, kind="missing")]
    )  # fmt: skip


def _with_quadrants(drivers: list[Driver]) -> list[Driver]:
    """Questions split at their mean importance and performance; touchpoints and themes are
    read as their own."""
    questions = [driver for driver in drivers if driver.kind == "question"]
    if not questions:
        return drivers
    importance_cut = sum(d.importance_percent for d in questions) / len(questions)
    performance_cut = sum(d.performance_percent for d in questions) / len(questions)
    result = []
    for driver in drivers:
        if driver.kind != "question":
            quadrant = driver.kind
        elif driver.importance_percent >= importance_cut:
            quadrant = "fix first" if driver.performance_percent < performance_cut else "keep it up"
        else:
            quadrant = (
                "lower priority" if driver.performance_percent < performance_cut else "maintain"
            )
        result.append(Driver(**{**driver.__dict__, "quadrant": quadrant}))
    return result


def surveys_with_drivers(session: Session) -> list[tuple[str, str]]:
    """Surveys with at least two numeric questions: (code, name)."""
    surveys = table("surveys")
    questions = table("questions")
    numeric = questions.filter(questions.question_type.isin(NUMERIC_TYPES))
    counted = (
        numeric.group_by("survey_id")
        .aggregate(numeric=numeric.count())
        .filter(lambda t: t.numeric >= 2)
    )
    rows = fetch(
        session,
        surveys.join(counted, surveys.id == counted.survey_id)
        .select("code", "name")
        .order_by("name"),
    )
    return [(row["code"], row["name"]) for row in rows]
