"""JSON endpoints of experience analytics under ``/api/v1/analytics``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from cpxm.access import AGGREGATES, AggregatesReader, CommercialReader, requires
from cpxm.analytics.coordination import CoordinationReport, coordination_for_viewer
from cpxm.analytics.disengagement import SilentDisengagement, silent_for_viewer
from cpxm.analytics.drilldown import ResponseRow, responses_for_viewer
from cpxm.analytics.drivers import DriverReport, key_drivers
from cpxm.analytics.impact import ImpactReport, impact_report
from cpxm.analytics.journey_pages import cached_journey_report
from cpxm.analytics.journeys import JourneyReport
from cpxm.analytics.metric_pages import cached_metric_report
from cpxm.analytics.metrics import MetricReport, rating_questions
from cpxm.analytics.params import (
    CoordinationQueryParams,
    DisengagementParams,
    DriverQueryParams,
    ImpactQueryParams,
    JourneyQueryParams,
    LateAnswerParams,
    MetricQueryParams,
    TimeToContactParams,
)
from cpxm.analytics.service import report_cache
from cpxm.analytics.speed import LateAnswers, TimeToContact, late_answers, time_to_contact
from cpxm.deps import DbSession
from cpxm.pagination import Page, Pagination

# Figures are aggregates; the drill-down to answers is record-level and asks for more.
router = APIRouter(prefix="/analytics", tags=["analytics"], dependencies=[requires(AGGREGATES)])


@router.get("/metrics")
def get_metrics(request: Request, session: DbSession, query: MetricQueryParams) -> MetricReport:
    """NPS, CSAT, CES or a rating: overall, by segment (each against the rest), by period (each
    against the one before), with 95% intervals, response rates and corrected significance."""
    return cached_metric_report(request, session, query)


@router.get("/metrics/responses")
def get_metric_responses(
    session: DbSession,
    principal: CommercialReader,
    query: MetricQueryParams,
    page: Pagination,
    segment_key: Annotated[str | None, Query(description="One segment of the report.")] = None,
    period_key: Annotated[str | None, Query(description="One period's first day.")] = None,
) -> Page[ResponseRow]:
    """The answers (and comments) behind one figure of ``/analytics/metrics``, newest first."""
    rows, total = responses_for_viewer(
        session,
        principal,
        query=query,
        segment_key=segment_key,
        period_key=period_key,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[ResponseRow](items=rows, total=total, limit=page.limit, offset=page.offset)


@router.get("/questions")
def get_rating_questions(session: DbSession) -> list[dict[str, object]]:
    """Numeric questions a metric can be computed on (``question_id`` of ``/metrics``)."""
    return rating_questions(session)


@router.get("/drivers")
def get_drivers(request: Request, session: DbSession, query: DriverQueryParams) -> DriverReport:
    """Relative weights (and the exact Shapley check) of a survey's rating questions and top
    feedback themes for its NPS, CSAT or a chosen outcome, with importance x performance."""
    return report_cache(request.app.state).get(
        session, ("drivers", query), lambda: key_drivers(session, query)
    )


@router.get("/coordination")
def get_coordination(
    request: Request,
    session: DbSession,
    principal: AggregatesReader,
    query: CoordinationQueryParams,
) -> CoordinationReport:
    """Contact pressure by department and channel, ping-pong episodes (N or more departments
    within D days), their effect on later NPS, and the stakeholders affected now (named only
    for roles that see records; patients pseudonymised unless the role sees patient data)."""
    return coordination_for_viewer(session, principal, query, report_cache(request.app.state))


@router.get("/journeys")
def get_journey(request: Request, session: DbSession, query: JourneyQueryParams) -> JourneyReport:
    """Stage funnel, drop-offs, days between stages, common paths, moments of truth and the
    peak-end weights of the relationship NPS."""
    return cached_journey_report(request, session, query)


@router.get("/impact")
def get_impact(request: Request, session: DbSession, query: ImpactQueryParams) -> ImpactReport:
    """How much an imported KPI moves per point of NPS, CSAT or CES, with its 95% interval,
    and the KPI's mean for promoters, passives and detractors."""
    return report_cache(request.app.state).get(
        session, ("impact", query), lambda: impact_report(session, query)
    )


@router.get("/time-to-contact")
def get_time_to_contact(
    request: Request, session: DbSession, query: TimeToContactParams
) -> TimeToContact:
    """Days from each stakeholder's first interaction of ``start_type`` to their first of
    ``end_type`` after it, and how a score given after that contact moves per day of waiting."""
    return report_cache(request.app.state).get(
        session, ("time_to_contact", query), lambda: time_to_contact(session, query)
    )


@router.get("/late-answers")
def get_late_answers(request: Request, session: DbSession, query: LateAnswerParams) -> LateAnswers:
    """Requests paired with their answers; the stakeholder's contacts in the window after a late
    answer against after an on-time one, as a rate ratio with its 95% interval."""
    return report_cache(request.app.state).get(
        session, ("late_answers", query), lambda: late_answers(session, query)
    )


@router.get("/silent-disengagement")
def get_silent_disengagement(
    session: DbSession, principal: CommercialReader, query: DisengagementParams
) -> SilentDisengagement:
    """Stakeholders whose contact rate fell sharply while they stayed silent (no detractor
    score, no recent response), steepest drop first. Record-level: patients and caregivers only
    for roles that see patient data, and that read is audited."""
    return silent_for_viewer(session, principal, query)
