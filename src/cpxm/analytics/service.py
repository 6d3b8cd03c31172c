"""Workspace-level aggregates for the overview: who we serve, how we reach them, how it feels.

Like every analytics query, these are Ibis expressions compiled for the store's dialect and run
on the request's own connection (``cpxm.analytics.query``); Python only turns the small reduced
tables into scores and intervals.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, TypeVar, cast

import ibis.expr.types as ir
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.analytics import stats
from cpxm.analytics.facts import EMPLOYEE_SURVEY_KINDS, NONE_KEY, score_answers
from cpxm.analytics.models import AnalyticsChange, AnalyticsChangeCounter
from cpxm.analytics.query import analytics_connection, dialect_of, fetch, lake_marker, table
from cpxm.feedback.models import FeedbackItem
from cpxm.interactions.models import Interaction
from cpxm.outcomes.models import KpiValue
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import SCORE_SCALES, Answer, Invitation, Response

SCORE_TYPES = ("nps", "csat", "ces")
ALL_STAKEHOLDERS = "all"
UNKNOWN_TYPE = "unknown"  # anonymous responses: no stakeholder to take a type from
EMPLOYEES = "employee"  # the segment of eNPS: the employee pulse, never broken down further
# Golden records: provisional records identity resolution merged into one stay in the table
# (so a merge can be undone) but are not people of their own.
GOLDEN = "active"
T = TypeVar("T")
FINGERPRINT_MODELS = (
    Stakeholder,
    Interaction,
    Response,
    Answer,
    Invitation,
    KpiValue,
    FeedbackItem,
)


def month_bucket(moment: ir.TimestampValue | ir.DateValue, dialect: str) -> ir.Value:
    """The cheapest month key per engine; ``month_key`` reads it as YYYY-MM.

    On SQLite a DATETIME or DATE is ISO text, so its first seven characters are the month,
    several times cheaper than date functions; elsewhere ``date_trunc``.
    """
    if dialect == "sqlite":
        return moment.cast("string").substr(0, 7)
    return moment.truncate("M")


def month_key(bucket: date | str) -> str:
    """``YYYY-MM`` from a ``month_bucket`` value (a date, timestamp or text, by dialect)."""
    if isinstance(bucket, date):
        return bucket.strftime("%Y-%m")
    return bucket[:7]


@dataclass(frozen=True, order=True)
class MonthlyInteractions:
    month: str  # YYYY-MM
    channel: str
    department: str
    interactions: int


@dataclass(frozen=True)
class ScoreSummary:
    """One score for one segment. ``value`` is None when nobody answered."""

    metric: str  # nps, csat or ces
    segment: str  # a stakeholder type, or "all"
    n: int
    value: float | None  # NPS in points (-100..100), CSAT as % satisfied (4-5), CES as mean 1-7
    ci_low: float | None
    ci_high: float | None
    mean: float | None  # the mean answer (CSAT's 1-5 mean is read alongside its top-2-box share)
    promoters: int = 0
    detractors: int = 0


@dataclass(frozen=True)
class Overview:
    stakeholders_by_type: list[tuple[str, int]]
    monthly_interactions: list[MonthlyInteractions]
    scores: list[ScoreSummary]  # customer scores: the employee pulse is not among them
    total_responses: int  # customers' complete responses; the pulse is counted apart
    employee_responses: int
    employee_nps: ScoreSummary  # eNPS of the employee pulse, shown apart from customer NPS

    @property
    def total_stakeholders(self) -> int:
        return sum(count for _, count in self.stakeholders_by_type)

    @property
    def total_interactions(self) -> int:
        return sum(row.interactions for row in self.monthly_interactions)

    def interactions_by(self, dimension: str) -> list[tuple[str, str, int]]:
        """(month, channel or department, interactions), summed over the other dimension."""
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for row in self.monthly_interactions:
            totals[(row.month, getattr(row, dimension))] += row.interactions
        return sorted((month, key, count) for (month, key), count in totals.items())

    def scores_for(self, metric: str) -> list[ScoreSummary]:
        """The overall score first, then each stakeholder type by number of answers."""
        rows = [score for score in self.scores if score.metric == metric]
        return sorted(rows, key=lambda s: (s.segment != ALL_STAKEHOLDERS, -s.n, s.segment))


# The overview's expressions never change: built once (building costs Ibis milliseconds), and
# compiled once per dialect by ``fetch``'s cache.
@cache
def _stakeholders_by_type() -> ir.Table:
    stakeholders = table("stakeholders")
    golden = stakeholders.filter(stakeholders.status == GOLDEN)
    return golden.group_by("type").aggregate(n=golden.count())


def stakeholders_by_type(session: Session) -> list[tuple[str, int]]:
    """Golden records per type, largest first; records merged into another are not counted."""
    rows = fetch(session, _stakeholders_by_type())
    return sorted(((row["type"], int(row["n"])) for row in rows), key=lambda r: (-r[1], r[0]))


@cache
def _monthly_interactions(dialect: str) -> ir.Table:
    counts = table("interaction_daily_counts")
    month = month_bucket(counts.day, dialect)
    return counts.group_by(
        month=month, channel=counts.channel_code, department=counts.department_code
    ).aggregate(n=counts.interactions.sum())


def monthly_interactions(session: Session) -> list[MonthlyInteractions]:
    """Interactions per month, channel and department; the charts roll it up.

    Read from ``interaction_daily_counts`` (a few hundred rows per month, kept exact by the
    store's triggers) rather than grouping every interaction on each view.
    """
    return sorted(
        MonthlyInteractions(
            month=month_key(row["month"]),
            channel=row["channel"],
            department=row["department"],
            interactions=int(row["n"]),
        )
        for row in fetch(session, _monthly_interactions(dialect_of(session)))
        if row["n"]  # every interaction of a day removed leaves a zero count behind
    )


@cache
def _score_distribution() -> ir.Table:
    answers = score_answers(
        question_types=SCORE_TYPES,
        dimensions=("stakeholder_type",),
        exclude_survey_kinds=EMPLOYEE_SURVEY_KINDS,
    )
    return answers.group_by(
        question_type=answers.question_type,
        stakeholder_type=answers.stakeholder_type,
        value=answers.value,
    ).aggregate(n=answers.count())


def score_distribution(session: Session) -> list[tuple[str, str, float, int]]:
    """(question type, stakeholder type, answer value, answers) over complete responses to
    customer surveys: the same answers the metrics report counts (``score_answers``)."""
    return [
        (
            row["question_type"],
            UNKNOWN_TYPE if row["stakeholder_type"] == NONE_KEY else row["stakeholder_type"],
            float(row["value"]),
            int(row["n"]),
        )
        for row in fetch(session, _score_distribution())
    ]


@cache
def _employee_nps_distribution() -> ir.Table:
    answers = score_answers(question_types=("nps",), only_survey_kinds=EMPLOYEE_SURVEY_KINDS)
    return answers.group_by(value=answers.value).aggregate(n=answers.count())


def employee_nps(session: Session) -> ScoreSummary:
    """eNPS: the employee pulse's likelihood-to-recommend answers, all employees together."""
    low, high = SCORE_SCALES["nps"]
    histogram: dict[float, int] = defaultdict(int)
    # The pulse's answers never leave the store (the lake holds no confidential survey).
    for row in fetch(session, _employee_nps_distribution(), on_store=True):
        if low <= float(row["value"]) <= high:
            histogram[float(row["value"])] += int(row["n"])
    return _summarise("nps", EMPLOYEES, histogram)


def summarise_scores(distribution: Iterable[tuple[str, str, float, int]]) -> list[ScoreSummary]:
    """NPS, CSAT and CES, overall and per stakeholder type, from the answer histogram.

    Answers outside a question type's scale are invalid input and left out rather than skewing
    the score.
    """
    histograms: dict[tuple[str, str], dict[float, int]] = defaultdict(lambda: defaultdict(int))
    for metric, segment, value, count in distribution:
        low, high = SCORE_SCALES[metric]
        if not low <= value <= high:
            continue
        histograms[(metric, segment)][value] += count
        histograms[(metric, ALL_STAKEHOLDERS)][value] += count
    summaries = [
        _summarise(metric, segment, histogram)
        for (metric, segment), histogram in histograms.items()
    ]
    present = {summary.metric for summary in summaries}
    summaries.extend(
        _summarise(metric, ALL_STAKEHOLDERS, {}) for metric in SCORE_TYPES if metric not in present
    )
    return summaries


@cache
def _complete_responses() -> ir.Table:
    responses = table("responses")
    surveys = table("surveys")
    complete = responses.filter(responses.status == "complete").join(
        surveys, responses.survey_id == surveys.id
    )
    employee = complete.kind.isin(EMPLOYEE_SURVEY_KINDS)
    return complete.aggregate(
        customers=(~employee).ifelse(1, 0).sum(), employees=employee.ifelse(1, 0).sum()
    )


def count_complete_responses(session: Session) -> tuple[int, int]:
    """Complete responses (customers', employees'): the pulse is counted apart, as its scores."""
    # Counts the pulse's responses too, which only the store holds.
    (row,) = fetch(session, _complete_responses(), on_store=True)
    return int(row["customers"] or 0), int(row["employees"] or 0)


def workspace_overview(session: Session) -> Overview:
    """Everything the overview page shows, in five aggregate queries."""
    customer_responses, employee_responses = count_complete_responses(session)
    return Overview(
        stakeholders_by_type=stakeholders_by_type(session),
        monthly_interactions=monthly_interactions(session),
        scores=summarise_scores(score_distribution(session)),
        total_responses=customer_responses,
        employee_responses=employee_responses,
        employee_nps=employee_nps(session),
    )


def _summarise(metric: str, segment: str, histogram: dict[float, int]) -> ScoreSummary:
    n = sum(histogram.values())
    if n == 0:
        return ScoreSummary(metric, segment, 0, None, None, None, None)
    # The metrics report's estimators on the same sufficient statistics, so a figure and its
    # interval read the same on the overview and in analytics.
    moments = stats.Moments(
        n=n,
        total=sum(value * count for value, count in histogram.items()),
        total_squares=sum(value * value * count for value, count in histogram.items()),
        promoters=sum(count for value, count in histogram.items() if value >= 9),
        detractors=sum(count for value, count in histogram.items() if value <= 6),
        top_box=sum(count for value, count in histogram.items() if value >= 4),
    )
    if metric == "nps":
        result = stats.nps_estimate(moments)
        return ScoreSummary(
            metric, segment, n, result.value, result.ci_low, result.ci_high, moments.mean,
            moments.promoters, moments.detractors,
        )  # fmt: skip
    if metric == "csat":
        result = stats.share_estimate(moments.top_box, n)
    else:
        result = stats.mean_estimate(moments)
    return ScoreSummary(
        metric, segment, n, result.value, result.ci_low, result.ci_high, moments.mean
    )


def data_fingerprint(session: Session) -> tuple[int | None, ...]:
    """The highest id of each table analytics read, and the store's change marker.

    New rows change the highest ids (primary-key lookups, cheap at any size); updates and deletes
    change the marker, which triggers keep in the writer's transaction (migration 0032): on
    SQLite a counter, on PostgreSQL the size and end of a log of changing statements. Every
    process reads the same store, so an edit made through one app process, a worker or the CLI
    reaches every process's report cache at its next view. Counting the facts instead costs
    PostgreSQL a scan of millions of interactions (0.7 s at demo scale 10).
    """
    highest = [select(func.max(model.id)).scalar_subquery() for model in FINGERPRINT_MODELS]
    if session.get_bind().dialect.name == "postgresql":
        markers = [
            select(func.count()).select_from(AnalyticsChange).scalar_subquery(),
            select(func.max(AnalyticsChange.id)).scalar_subquery(),
        ]
    else:
        markers = [
            select(AnalyticsChangeCounter.changes)
            .where(AnalyticsChangeCounter.id == 1)
            .scalar_subquery()
        ]
    # From where the reports read (the replica, when there is one), so the key and the figures
    # cached under it come from the same copy of the data.
    with analytics_connection(session) as connection:
        store = tuple(connection.execute(select(*highest, *markers)).one())
    # With the Spark engine the figures come from the lake: a new export refreshes them too.
    return (*store, lake_marker())


@dataclass(frozen=True)
class _CachedOverview:
    fingerprint: tuple[int | None, ...]
    computed_at: float
    overview: Overview


class OverviewCache:
    """The overview, recomputed only when the tables it reads gain rows, or after max_age.

    Grouping a quarter million interactions by month, channel and department costs SQLite a few
    hundred milliseconds (it sorts to group), while the fingerprint costs a few; so a page view
    only pays for the aggregation after the data changed (new rows, or an edit or deletion the
    store's change marker counted); ``max_age_seconds`` bounds what a change made with the
    triggers disabled could leave.
    """

    def __init__(self, *, max_age_seconds: float = 300.0) -> None:
        self.max_age_seconds = max_age_seconds
        self._lock = threading.Lock()
        self._cached: _CachedOverview | None = None

    def get(self, session: Session) -> Overview:
        fingerprint = data_fingerprint(session)
        with self._lock:
            cached = self._cached
        now = time.monotonic()
        if (
            cached is not None
            and cached.fingerprint == fingerprint
            and now - cached.computed_at < self.max_age_seconds
        ):
            return cached.overview
        overview = workspace_overview(session)
        with self._lock:
            self._cached = _CachedOverview(fingerprint, now, overview)
        return overview


class ReportCache:
    """Analytics reports by query, recomputed when the data fingerprint changes or after max_age.

    A report at demo scale 10 costs the database about a second; a repeat view of the same
    figures costs the fingerprint (milliseconds). Bounded: the least recently used report goes.
    """

    def __init__(self, *, max_entries: int = 256, max_age_seconds: float = 120.0) -> None:
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[tuple[int | None, ...], float, Any]] = {}

    def get(self, session: Session, key: Hashable, compute: Callable[[], T]) -> T:
        fingerprint = data_fingerprint(session)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.pop(key, None)
            if (
                entry is not None
                and entry[0] == fingerprint
                and now - entry[1] < self.max_age_seconds
            ):
                self._entries[key] = entry  # most recently used last
                return cast(T, entry[2])
        value = compute()
        with self._lock:
            self._entries[key] = (fingerprint, now, value)
            while len(self._entries) > self.max_entries:
                self._entries.pop(next(iter(self._entries)))
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def report_cache(state: Any) -> ReportCache:
    """The app's report cache (``app.state.report_cache``), made on first use."""
    cache = getattr(state, "report_cache", None)
    if cache is None:
        cache = ReportCache()
        state.report_cache = cache
    return cast(ReportCache, cache)
