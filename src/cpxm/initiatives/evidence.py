"""The evidence behind an initiative, and what changed after it shipped.

- **Driver**: the question's importance (Johnson's relative weights) and performance, as the
  key-driver page computes them for the survey (``cpxm.analytics.drivers``), in the scope's
  stakeholder type.
- **Theme**: feedback carrying the theme in the quarter, the share negative and the mean
  sentiment, against the quarter before.
- **Verbatims**: the newest comments carrying the theme, through the feedback shield
  (``cpxm.access.shield_feedback``), only for roles that read feedback records and only when
  the theme's volume reaches the workspace's minimum cell size.
- **Journey stage**: how many reached it and how many went on (``cpxm.analytics.journeys``).
- **Before/after**: the target metric (and the driver's mean, and the theme's share of
  feedback) in the ``window_days`` before shipping against the same span after, each with its
  95% interval and the difference's (``cpxm.analytics.stats``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cpxm.access import COMMERCIAL_DATA, Principal, cells, shield_feedback
from cpxm.access.confidential import hidden_survey_ids
from cpxm.analytics import stats
from cpxm.analytics.drivers import DriverQuery, DriverReport, key_drivers
from cpxm.analytics.facts import Slice
from cpxm.analytics.journeys import JourneyQuery, JourneyReport, journey_report
from cpxm.analytics.service import report_cache
from cpxm.errors import DomainError
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem, FeedbackTheme
from cpxm.feedback.schemas import FeedbackOut, feedback_out
from cpxm.initiatives.kano import KanoReport, kano_report
from cpxm.initiatives.models import Initiative
from cpxm.initiatives.scope import REACH_DAYS, Window, driver_question, in_scope, scale_of
from cpxm.initiatives.service import NOT_SURVEY_KINDS, Rice, rice
from cpxm.surveys.models import SCORE_SCALES, Answer, Question, Response, Survey
from cpxm.text.themes import theme_labels

VERBATIMS = 5
MIN_SCORE_ANSWERS = 30  # fewest answers per side for a before/after score


@dataclass(frozen=True)
class DriverEvidence:
    survey: str
    code: str
    label: str
    found: bool
    note: str | None = None
    importance_percent: float | None = None
    performance: float | None = None  # the mean answer on the question's scale
    performance_percent: float | None = None
    quadrant: str | None = None
    rank: int | None = None  # 1 = the strongest driver
    drivers: int = 0
    responses: int = 0


@dataclass(frozen=True)
class ThemeEvidence:
    code: str
    label: str
    items: int | None  # None: under the minimum cell size
    negative_percent: float | None
    mean_sentiment: float | None
    previous_items: int | None  # the quarter before
    window_start: date
    window_end: date


@dataclass(frozen=True)
class StageEvidence:
    journey: str
    stage: str
    name: str
    is_moment_of_truth: bool
    reached: int | None
    continued: int | None
    drop_off_percent: float | None
    truth_effect: float | None


@dataclass(frozen=True)
class Verbatims:
    items: list[FeedbackOut]
    withheld: str | None  # why none are shown to this viewer


@dataclass(frozen=True)
class Comparison:
    metric: str
    label: str
    unit: str
    before_n: int
    after_n: int
    before: float | None
    before_ci: tuple[float, float] | None
    after: float | None
    after_ci: tuple[float, float] | None
    difference: float | None
    difference_ci: tuple[float, float] | None
    p_value: float | None


@dataclass(frozen=True)
class BeforeAfter:
    shipped_on: date
    window_days: int
    before_start: date
    after_end: date  # inclusive; the data's last day when the window is not over yet
    complete: bool  # the after window is over
    comparisons: list[Comparison]


@dataclass(frozen=True)
class InitiativeDetail:
    code: str
    title: str
    problem: str
    owner: str
    status: str
    moscow: str
    therapeutic_area: str | None
    stakeholder_type: str | None
    target_metric: str
    as_of: date
    rice: Rice
    driver: DriverEvidence | None
    theme: ThemeEvidence | None
    stage: StageEvidence | None
    verbatims: Verbatims | None
    kano: KanoReport
    before_after: BeforeAfter | None
    notes: list[str] = field(default_factory=list)


DriverSource = Callable[[DriverQuery], DriverReport]
JourneySource = Callable[[JourneyQuery], JourneyReport]


def initiative_detail(
    session: Session,
    principal: Principal | None,
    initiative: Initiative,
    *,
    as_of: date,
    drivers: DriverSource | None = None,
    journeys: JourneySource | None = None,
) -> InitiativeDetail:
    """Everything the initiative's page shows; verbatims as ``principal`` may read them.
    ``drivers`` and ``journeys`` compute the key-driver and journey reports (the web app passes
    its report cache, shared with the analytics pages)."""
    return InitiativeDetail(
        code=initiative.code,
        title=initiative.title,
        problem=initiative.problem,
        owner=initiative.owner,
        status=initiative.status,
        moscow=initiative.moscow,
        therapeutic_area=initiative.therapeutic_area_code,
        stakeholder_type=initiative.stakeholder_type,
        target_metric=initiative.target_metric,
        as_of=as_of,
        rice=rice(session, initiative, as_of=as_of),
        driver=driver_evidence(session, initiative, drivers=drivers),
        theme=theme_evidence(session, initiative, as_of=as_of),
        stage=stage_evidence(session, initiative, journeys=journeys),
        verbatims=verbatims(session, principal, initiative, as_of=as_of),
        kano=kano_report(session, initiative),
        before_after=before_after(session, initiative, as_of=as_of),
    )


def driver_evidence(
    session: Session, initiative: Initiative, *, drivers: DriverSource | None = None
) -> DriverEvidence | None:
    if not (initiative.survey_code and initiative.driver_code):
        return None
    filters = (
        (("stakeholder_type", initiative.stakeholder_type),) if initiative.stakeholder_type else ()
    )
    survey, code = initiative.survey_code, initiative.driver_code
    try:
        query = DriverQuery(survey=survey, slice=Slice(filters))
        report = drivers(query) if drivers else key_drivers(session, query)
    except DomainError as error:
        return DriverEvidence(survey, code, code, False, note=str(error.detail))
    if report.suppressed:
        return DriverEvidence(
            survey, code, code, False, note=f"too few complete responses ({report.n})",
            responses=report.n,
        )  # fmt: skip
    for rank, driver in enumerate(report.drivers, start=1):
        if driver.kind == "question" and driver.code == code:
            return DriverEvidence(
                survey, code, driver.label, True, None, driver.importance_percent,
                driver.performance, driver.performance_percent, driver.quadrant, rank,
                len(report.drivers), report.n,
            )  # fmt: skip
    return DriverEvidence(
        survey, code, code, False, note="not among the drivers (no variation in its answers)",
        drivers=len(report.drivers), responses=report.n,
    )  # fmt: skip


def _theme_counts(
    session: Session, initiative: Initiative, window: Window
) -> tuple[int, int, float | None]:
    row = session.execute(
        select(
            func.count(),
            func.sum(case((FeedbackAnalysis.sentiment_label == "negative", 1), else_=0)),
            func.avg(FeedbackAnalysis.sentiment_score),
        )
        .select_from(FeedbackItem)
        .join(FeedbackTheme, FeedbackTheme.feedback_item_id == FeedbackItem.id)
        .outerjoin(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
        .where(
            FeedbackTheme.theme_code == initiative.theme_code,
            FeedbackItem.received_at >= window.start,
            FeedbackItem.received_at < window.end,
            *in_scope(initiative, FeedbackItem.stakeholder_id),
        )
    ).one()
    mean = float(row[2]) if row[2] is not None else None
    return int(row[0] or 0), int(row[1] or 0), mean


def theme_evidence(
    session: Session, initiative: Initiative, *, as_of: date
) -> ThemeEvidence | None:
    if not initiative.theme_code:
        return None
    window = Window.days_to(as_of, REACH_DAYS)
    earlier = Window(window.start - timedelta(days=REACH_DAYS), window.start)
    items, negative, mean = _theme_counts(session, initiative, window)
    previous, _negative, _mean = _theme_counts(session, initiative, earlier)
    floor = cells.min_cell_size(session)
    label = theme_labels().get(initiative.theme_code, initiative.theme_code)
    shown = items >= floor
    return ThemeEvidence(
        code=initiative.theme_code,
        label=label,
        items=items if shown else None,
        negative_percent=100 * negative / items if shown else None,
        mean_sentiment=mean if shown else None,
        previous_items=previous if previous >= floor else None,
        window_start=window.start.date(),
        window_end=(window.end - timedelta(days=1)).date(),
    )


def stage_evidence(
    session: Session, initiative: Initiative, *, journeys: JourneySource | None = None
) -> StageEvidence | None:
    if not (initiative.journey_code and initiative.stage_code):
        return None
    filters = (
        (("stakeholder_type", initiative.stakeholder_type),) if initiative.stakeholder_type else ()
    )
    query = JourneyQuery(journey=initiative.journey_code, slice=Slice(filters))
    report = journeys(query) if journeys else journey_report(session, query)
    for stage in report.stages:
        if stage.code == initiative.stage_code:
            floor = cells.min_cell_size(session)
            shown = stage.reached >= floor
            return StageEvidence(
                journey=report.journey_name,
                stage=stage.code,
                name=stage.name,
                is_moment_of_truth=stage.is_moment_of_truth,
                reached=stage.reached if shown else None,
                continued=stage.continued if shown else None,
                drop_off_percent=stage.drop_off_percent if shown else None,
                truth_effect=stage.truth_effect,
            )
    return None


def verbatims(
    session: Session, principal: Principal | None, initiative: Initiative, *, as_of: date
) -> Verbatims | None:
    if not initiative.theme_code:
        return None
    if principal is None or not COMMERCIAL_DATA.allows(principal.role):
        return Verbatims([], "your role sees figures, not feedback records")
    window = Window.days_to(as_of, REACH_DAYS)
    items, _negative, _mean = _theme_counts(session, initiative, window)
    if items < cells.min_cell_size(session):
        return Verbatims([], "fewer comments than the workspace's minimum cell size")
    hidden = hidden_survey_ids(session, principal)
    query = (
        select(FeedbackItem, FeedbackAnalysis)
        .join(FeedbackTheme, FeedbackTheme.feedback_item_id == FeedbackItem.id)
        .outerjoin(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
        .where(
            FeedbackTheme.theme_code == initiative.theme_code,
            FeedbackItem.received_at >= window.start,
            FeedbackItem.received_at < window.end,
            *in_scope(initiative, FeedbackItem.stakeholder_id),
        )
    )
    if hidden:
        confidential = select(Response.id).where(Response.survey_id.in_(hidden))
        query = query.where(
            (FeedbackItem.response_id.is_(None)) | FeedbackItem.response_id.not_in(confidential)
        )
    rows = session.execute(
        query.order_by(
            case((FeedbackAnalysis.sentiment_label == "negative", 0), else_=1),
            FeedbackItem.received_at.desc(),
            FeedbackItem.id.desc(),
        ).limit(VERBATIMS)
    ).all()
    shown = shield_feedback(
        session,
        principal,
        [feedback_out(item, analysis) for item, analysis in rows],
        via=f"initiative {initiative.code}",
    )
    return Verbatims(shown, None)


def _day(moment: date) -> datetime:
    return datetime.combine(moment, time())


def _score_moments(
    session: Session, initiative: Initiative, question_filter: object, start: datetime,
    end: datetime, value_range: tuple[float, float],
) -> stats.Moments:  # fmt: skip
    row = session.execute(
        select(
            func.count(),
            func.sum(Answer.value_number),
            func.sum(Answer.value_number * Answer.value_number),
            func.sum(case((Answer.value_number >= 9, 1), else_=0)),
            func.sum(case((Answer.value_number <= 6, 1), else_=0)),
            func.sum(case((Answer.value_number >= 4, 1), else_=0)),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Question, Question.id == Answer.question_id)
        .join(Survey, Survey.id == Response.survey_id)
        .where(
            question_filter,  # type: ignore[arg-type]
            Answer.value_number.between(*value_range),
            Response.status == "complete",
            Response.submitted_at >= start,
            Response.submitted_at < end,
            Survey.kind.not_in(NOT_SURVEY_KINDS),
            *in_scope(initiative, Response.stakeholder_id),
        )
    ).one()
    return stats.Moments(
        int(row[0] or 0), float(row[1] or 0.0), float(row[2] or 0.0),
        promoters=int(row[3] or 0), detractors=int(row[4] or 0), top_box=int(row[5] or 0),
    )  # fmt: skip


def _compare(
    metric: str, label: str, unit: str, before: stats.Moments, after: stats.Moments, min_n: int
) -> Comparison:
    def estimate(moments: stats.Moments) -> stats.Estimate | None:
        if moments.n < min_n:
            return None
        if metric == "nps":
            return stats.nps_estimate(moments)
        if metric == "csat":
            return stats.share_estimate(moments.top_box, moments.n)
        return stats.mean_estimate(moments)

    first, second = estimate(before), estimate(after)
    difference = difference_ci = p_value = None
    if first is not None and second is not None:
        difference = second.value - first.value
        margin = stats.Z_95 * (first.standard_error**2 + second.standard_error**2) ** 0.5
        difference_ci = (difference - margin, difference + margin)
        p_value = stats.difference_p_value(second, first)
    return Comparison(
        metric, label, unit, before.n, after.n,
        first.value if first else None, (first.ci_low, first.ci_high) if first else None,
        second.value if second else None, (second.ci_low, second.ci_high) if second else None,
        difference, difference_ci, p_value,
    )  # fmt: skip


def _theme_share(
    session: Session, initiative: Initiative, start: datetime, end: datetime
) -> tuple[int, int]:
    """(feedback items in scope, of which carrying the theme) in [start, end)."""
    carries = FeedbackItem.id.in_(
        select(FeedbackTheme.feedback_item_id).where(
            FeedbackTheme.theme_code == initiative.theme_code
        )
    )
    row = session.execute(
        select(func.count(), func.sum(case((carries, 1), else_=0))).where(
            FeedbackItem.received_at >= start,
            FeedbackItem.received_at < end,
            *in_scope(initiative, FeedbackItem.stakeholder_id),
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def before_after(session: Session, initiative: Initiative, *, as_of: date) -> BeforeAfter | None:
    """The targeted metrics in the window before shipping and the same span after."""
    if initiative.shipped_on is None:
        return None
    days = timedelta(days=initiative.window_days)
    shipped = _day(initiative.shipped_on)
    before_start, after_end = shipped - days, shipped + days
    data_end = _day(as_of) + timedelta(days=1)
    complete = after_end <= data_end
    after_end = min(after_end, data_end)
    floor = cells.floor(session, MIN_SCORE_ANSWERS)
    comparisons = []
    metric = initiative.target_metric
    low, high = SCORE_SCALES[metric]
    target = Question.question_type == metric
    if initiative.survey_code:
        target = target & (Survey.code == initiative.survey_code)
    unit = {"nps": "points", "csat": "% satisfied", "ces": "mean 1-7"}[metric]
    comparisons.append(
        _compare(
            metric, metric.upper(), unit,
            _score_moments(session, initiative, target, before_start, shipped, (low, high)),
            _score_moments(session, initiative, target, shipped, after_end, (low, high)),
            floor,
        )
    )  # fmt: skip
    question = driver_question(session, initiative)
    if question is not None:
        scale = scale_of(question)
        chosen = Question.id == question.id
        comparisons.append(
            _compare(
                "mean", f"Driver: {question.prompt}", f"mean {scale[0]:g}-{scale[1]:g}",
                _score_moments(session, initiative, chosen, before_start, shipped, scale),
                _score_moments(session, initiative, chosen, shipped, after_end, scale),
                floor,
            )
        )  # fmt: skip
    if initiative.theme_code:
        label = theme_labels().get(initiative.theme_code, initiative.theme_code)
        before_items, before_theme = _theme_share(session, initiative, before_start, shipped)
        after_items, after_theme = _theme_share(session, initiative, shipped, after_end)
        comparisons.append(
            _share_comparison(
                f"Feedback mentioning {label}", before_items, before_theme, after_items,
                after_theme, cells.min_cell_size(session),
            )
        )  # fmt: skip
    return BeforeAfter(
        initiative.shipped_on, initiative.window_days, before_start.date(),
        (after_end - timedelta(days=1)).date(), complete, comparisons,
    )  # fmt: skip


def _share_comparison(
    label: str, before_n: int, before_k: int, after_n: int, after_k: int, floor: int
) -> Comparison:
    def estimate(n: int, k: int) -> stats.Estimate | None:
        # Counts under the cell floor (and their complements) would describe a few people.
        if n < floor or k < floor or n - k < floor:
            return None
        return stats.share_estimate(k, n)

    first, second = estimate(before_n, before_k), estimate(after_n, after_k)
    difference = difference_ci = p_value = None
    if first is not None and second is not None:
        difference = second.value - first.value
        margin = stats.Z_95 * (first.standard_error**2 + second.standard_error**2) ** 0.5
        difference_ci = (difference - margin, difference + margin)
        p_value = stats.difference_p_value(second, first)
    return Comparison(
        "share", label, "% of feedback", before_n, after_n,
        first.value if first else None, (first.ci_low, first.ci_high) if first else None,
        second.value if second else None, (second.ci_low, second.ci_high) if second else None,
        difference, difference_ci, p_value,
    )  # fmt: skip


def cached_sources(request: Any, session: Session) -> dict[str, Any]:
    """Key-driver and journey reports through the app's report cache, under the keys the
    analytics pages use, so an initiative's page and theirs compute each report once."""
    cache = report_cache(request.app.state)

    def drivers(query: DriverQuery) -> DriverReport:
        return cache.get(session, ("drivers", query), lambda: key_drivers(session, query))

    def journeys(query: JourneyQuery) -> JourneyReport:
        return cache.get(session, ("journeys", query), lambda: journey_report(session, query))

    return {"drivers": drivers, "journeys": journeys}
