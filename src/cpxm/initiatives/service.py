"""The initiatives backlog: create and change initiatives, score them by RICE, sort and filter.

RICE = Reach x Impact x Confidence / Effort (Intercom's formula):

- **Reach**: stakeholders the problem touched in the last quarter (``cpxm.initiatives.scope``).
- **Impact**: the team's choice on RICE's scale (3, 2, 1, 0.5, 0.25), or, with
  ``impact_source: kpi_model``, the KPI-impact model's: the score gap between the people the
  problem touched and the rest of the scope, times the KPI's slope per score point
  (``cpxm.analytics.impact``), as a share of the KPI's mean, mapped onto the same scale.
- **Confidence** in percent, **Effort** in person-months.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from cpxm.analytics.facts import EMPLOYEE_SURVEY_KINDS, Slice
from cpxm.analytics.impact import ImpactQuery, available_kpis, impact_report
from cpxm.errors import FieldError, NotFoundError, field_error
from cpxm.initiatives.models import IMPACT_SCALE, STATUSES, Initiative
from cpxm.initiatives.schemas import InitiativeChange, InitiativeIn
from cpxm.initiatives.scope import (
    Reach,
    Window,
    in_scope,
    latest_day,
    reach,
    touched_union,
)
from cpxm.journeys.models import Journey, JourneyStage
from cpxm.stakeholders.models import STAKEHOLDER_TYPES
from cpxm.surveys.models import SCORE_SCALES, Answer, Question, Response, Survey
from cpxm.text.themes import theme_labels
from cpxm.workspace.models import TherapeuticArea

GAP_DAYS = 365  # the score gap is measured on a year of answers
# Relative KPI gain (percent of its mean) at or above which each RICE impact applies.
KPI_IMPACT_STEPS = ((10.0, 3.0), (5.0, 2.0), (2.0, 1.0), (1.0, 0.5))
NOT_SURVEY_KINDS = (*EMPLOYEE_SURVEY_KINDS, "maturity_assessment")

_FIELDS = {
    "therapeutic_area": "therapeutic_area_code",
    "survey": "survey_code",
    "driver": "driver_code",
    "theme": "theme_code",
    "journey": "journey_code",
    "stage": "stage_code",
    "kano_survey": "kano_survey_code",
}


@dataclass(frozen=True)
class ImpactEstimate:
    impact: float  # on RICE's scale
    source: str  # manual or kpi_model
    note: str | None  # why the model's estimate was not (or only partly) used
    kpi: str | None = None
    unit: str | None = None
    slope: float | None = None  # KPI units per score point
    slope_ci_low: float | None = None
    slope_ci_high: float | None = None
    score_gap: float | None = None  # the rest of the scope minus the people touched, in points
    touched_answers: int = 0
    other_answers: int = 0
    mean_kpi: float | None = None
    relative_gain_percent: float | None = None  # KPI gain if the gap closed, % of its mean


@dataclass(frozen=True)
class Rice:
    reach: Reach
    impact: ImpactEstimate
    confidence: float
    effort: float
    score: float


@dataclass(frozen=True)
class BacklogRow:
    code: str
    title: str
    owner: str
    status: str
    moscow: str
    therapeutic_area: str | None
    stakeholder_type: str | None
    reach: int
    impact: float
    impact_source: str
    confidence: float
    effort: float
    rice: float
    shipped_on: date | None


def _validate(session: Session, values: dict[str, Any]) -> None:
    """Every code names something that exists; all faults are reported together."""
    faults = []

    def fault(name: str, message: str) -> None:
        faults.append(field_error(name, message, values.get(name)))

    area = values.get("therapeutic_area")
    if area and session.get(TherapeuticArea, area) is None:
        known = ", ".join(sorted(session.scalars(select(TherapeuticArea.code))))
        fault("therapeutic_area", f"unknown therapeutic area {area!r}; known: {known}")
    kind = values.get("stakeholder_type")
    if kind and kind not in STAKEHOLDER_TYPES:
        fault(
            "stakeholder_type", f"unknown stakeholder type; one of {', '.join(STAKEHOLDER_TYPES)}"
        )
    survey, driver = values.get("survey"), values.get("driver")
    if driver and not survey:
        fault("driver", "a driver is a question of a survey: give survey too")
    if survey:
        survey_id = session.scalar(select(Survey.id).where(Survey.code == survey))
        if survey_id is None:
            fault("survey", f"no survey with code {survey!r}")
        elif driver:
            found = session.scalar(
                select(Question.question_type).where(
                    Question.survey_id == survey_id, Question.code == driver
                )
            )
            if found not in ("rating", "csat", "ces", "nps"):
                fault("driver", f"{driver!r} is not a rating question of survey {survey!r}")
    theme = values.get("theme")
    if theme and theme not in theme_labels():
        fault("theme", f"unknown theme; one of {', '.join(sorted(theme_labels()))}")
    journey, stage = values.get("journey"), values.get("stage")
    if bool(journey) != bool(stage):
        fault("stage", "give both journey and stage, or neither")
    elif journey:
        found_stage = session.scalar(
            select(JourneyStage.id)
            .join(Journey, Journey.id == JourneyStage.journey_id)
            .where(Journey.code == journey, JourneyStage.code == stage)
        )
        if found_stage is None:
            fault("stage", f"journey {journey!r} has no stage {stage!r}")
    kano_survey, kano_questions = values.get("kano_survey"), values.get("kano_questions") or []
    if kano_questions and not kano_survey:
        fault("kano_questions", "Kano questions belong to a survey: give kano_survey too")
    elif kano_survey:
        found_codes = set(
            session.scalars(
                select(Question.code)
                .join(Survey, Survey.id == Question.survey_id)
                .where(Survey.code == kano_survey, Question.question_type == "kano")
            )
        )
        if not found_codes:
            fault("kano_survey", f"survey {kano_survey!r} has no Kano questions")
        missing = [code for code in kano_questions if code not in found_codes]
        if found_codes and missing:
            fault("kano_questions", f"not Kano questions of {kano_survey!r}: {', '.join(missing)}")
    impact = values.get("impact")
    if impact is not None and impact not in IMPACT_SCALE:
        fault("impact", f"RICE impact is one of {', '.join(map(str, IMPACT_SCALE))}")
    if values.get("status") == "shipped" and not values.get("shipped_on"):
        fault("shipped_on", "a shipped initiative needs the day it shipped")
    if faults:
        raise FieldError(faults)


def _apply(initiative: Initiative, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(initiative, _FIELDS.get(name, name), value)


def create_initiative(session: Session, *, data: InitiativeIn) -> Initiative:
    """Add an initiative to the backlog; codes of its evidence are checked first."""
    values = data.model_dump()
    _validate(session, values)
    if session.scalar(select(Initiative.id).where(Initiative.code == data.code)) is not None:
        raise FieldError([field_error("code", "an initiative with this code exists", data.code)])
    initiative = Initiative()
    _apply(initiative, values)
    session.add(initiative)
    session.flush()
    return initiative


def update_initiative(
    session: Session, *, initiative: Initiative, changes: InitiativeChange
) -> Initiative:
    """Change the fields given; the result is checked as a whole, as when it was created."""
    given = changes.model_dump(exclude_unset=True)
    current = current_values(initiative)
    merged = {**current, **given}
    _validate(session, merged)
    _apply(initiative, given)
    session.flush()
    return initiative


def current_values(initiative: Initiative) -> dict[str, Any]:
    """The initiative as an ``InitiativeIn`` document (what the CLI exports and reads)."""
    values = {
        name: getattr(initiative, _FIELDS.get(name, name)) for name in InitiativeIn.model_fields
    }
    values["kano_questions"] = list(initiative.kano_questions or [])
    return values


def get_initiative(session: Session, *, code: str) -> Initiative:
    initiative = session.scalars(select(Initiative).where(Initiative.code == code)).one_or_none()
    if initiative is None:
        raise NotFoundError("initiative", repr(code))
    return initiative


def impact_estimate(session: Session, initiative: Initiative, *, as_of: date) -> ImpactEstimate:
    """The RICE impact: the team's, or the KPI model's when asked for and estimable."""
    manual = float(initiative.impact)
    if initiative.impact_source != "kpi_model":
        return ImpactEstimate(manual, "manual", None)
    kpis = [name for name, _count in available_kpis(session)]
    kpi = initiative.kpi or (kpis[0] if kpis else None)
    if kpi is None or kpi not in kpis:
        return ImpactEstimate(
            manual, "manual", "no KPI with values per stakeholder: the team's impact is used"
        )
    gap, touched_n, other_n = score_gap(session, initiative, as_of=as_of)
    filters = (
        (("stakeholder_type", initiative.stakeholder_type),) if initiative.stakeholder_type else ()
    )
    report = impact_report(
        session,
        ImpactQuery(kpi=kpi, metric=initiative.target_metric, slice=Slice(filters)),
    )
    base = ImpactEstimate(
        manual, "manual", None, kpi=kpi, unit=report.unit, slope=report.slope,
        slope_ci_low=report.ci_low, slope_ci_high=report.ci_high, score_gap=gap,
        touched_answers=touched_n, other_answers=other_n, mean_kpi=report.mean_kpi,
    )  # fmt: skip
    if report.slope is None or report.ci_low is None or report.ci_high is None:
        return replace(base, note="too few stakeholders with both a score and the KPI")
    if gap is None:
        return replace(base, note="too few answers from the people the problem touched")
    if report.ci_low <= 0 <= report.ci_high:
        note = (
            f"{kpi} does not move measurably with {initiative.target_metric.upper()} "
            "(its interval includes 0): minimal impact"
        )
        return replace(base, impact=IMPACT_SCALE[-1], source="kpi_model", note=note)
    if not report.mean_kpi:
        return replace(base, note=f"the mean {kpi} is 0")
    relative = 100 * report.slope * gap / abs(report.mean_kpi)
    impact = next((value for step, value in KPI_IMPACT_STEPS if relative >= step), 0.25)
    return replace(base, impact=impact, source="kpi_model", relative_gain_percent=relative)


def score_gap(
    session: Session, initiative: Initiative, *, as_of: date, min_n: int = 30
) -> tuple[float | None, int, int]:
    """Mean target-score answer of the rest of the scope minus that of the people the problem
    touched, over a year of answers (None with fewer than ``min_n`` answers on either side)."""
    window = Window.days_to(as_of, GAP_DAYS)
    people = touched_union(session, initiative, window)
    if people is None:
        return None, 0, 0
    low, high = SCORE_SCALES[initiative.target_metric]
    is_touched = Response.stakeholder_id.in_(select(people.c.stakeholder_id))
    flagged = (
        select(
            case((is_touched, 1), else_=0).label("touched"),
            Answer.value_number.label("value"),
        )
        .join(Answer, Answer.response_id == Response.id)
        .join(Question, Question.id == Answer.question_id)
        .join(Survey, Survey.id == Response.survey_id)
        .where(
            Question.question_type == initiative.target_metric,
            Answer.value_number.between(low, high),
            Response.status == "complete",
            Response.submitted_at >= window.start,
            Response.submitted_at < window.end,
            Survey.kind.not_in(NOT_SURVEY_KINDS),
            *in_scope(initiative, Response.stakeholder_id),
        )
        .subquery()
    )
    # Grouped outside: PostgreSQL does not see two bound copies of the CASE as one expression.
    rows = session.execute(
        select(flagged.c.touched, func.count(), func.avg(flagged.c.value)).group_by(
            flagged.c.touched
        )
    ).all()
    found = {int(flag): (int(count), float(mean or 0.0)) for flag, count, mean in rows}
    touched_n, touched_mean = found.get(1, (0, 0.0))
    other_n, other_mean = found.get(0, (0, 0.0))
    if touched_n < min_n or other_n < min_n:
        return None, touched_n, other_n
    return other_mean - touched_mean, touched_n, other_n


def rice(session: Session, initiative: Initiative, *, as_of: date | None = None) -> Rice:
    as_of = as_of or latest_day(session)
    found = reach(session, initiative, as_of=as_of)
    impact = impact_estimate(session, initiative, as_of=as_of)
    score = found.stakeholders * impact.impact * initiative.confidence / 100 / initiative.effort
    return Rice(found, impact, float(initiative.confidence), float(initiative.effort), score)


def backlog(
    session: Session,
    *,
    therapeutic_area: str | None = None,
    stakeholder_type: str | None = None,
    status: str | None = None,
    as_of: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[BacklogRow], int]:
    """Initiatives, highest RICE first. A therapeutic-area or stakeholder-type filter keeps
    the initiatives for that area or type and those for everyone (no area or type set)."""
    if status is not None and status not in STATUSES:
        raise FieldError([field_error("status", f"one of {', '.join(STATUSES)}", status)])
    query = select(Initiative)
    if therapeutic_area:
        query = query.where(
            or_(
                Initiative.therapeutic_area_code == therapeutic_area,
                Initiative.therapeutic_area_code.is_(None),
            )
        )
    if stakeholder_type:
        query = query.where(
            or_(
                Initiative.stakeholder_type == stakeholder_type,
                Initiative.stakeholder_type.is_(None),
            )
        )
    if status:
        query = query.where(Initiative.status == status)
    as_of = as_of or latest_day(session)
    rows = [
        backlog_row(initiative, rice(session, initiative, as_of=as_of))
        for initiative in session.scalars(query.order_by(Initiative.id))
    ]
    rows.sort(key=lambda row: (-row.rice, row.code))
    return rows[offset : offset + limit], len(rows)


def backlog_row(initiative: Initiative, scored: Rice) -> BacklogRow:
    return BacklogRow(
        code=initiative.code,
        title=initiative.title,
        owner=initiative.owner,
        status=initiative.status,
        moscow=initiative.moscow,
        therapeutic_area=initiative.therapeutic_area_code,
        stakeholder_type=initiative.stakeholder_type,
        reach=scored.reach.stakeholders,
        impact=scored.impact.impact,
        impact_source=scored.impact.source,
        confidence=scored.confidence,
        effort=scored.effort,
        rice=scored.score,
        shipped_on=initiative.shipped_on,
    )


def ship_day_window(initiative: Initiative) -> tuple[date, date] | None:
    if initiative.shipped_on is None:
        return None
    days = timedelta(days=initiative.window_days)
    return initiative.shipped_on - days, initiative.shipped_on + days


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
