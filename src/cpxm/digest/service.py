"""The monthly digest: the figures an audience needs for one month, each taken from the service
that computes it everywhere else (no figure has a second implementation here).

- headline scores: ``analytics.metrics.metric_report`` (NPS, CSAT, CES with 95% intervals and
  the change from the month before, tested and corrected as on the metrics page);
- significant movements: the same report per segment, the p-values of all segments and
  metrics corrected together (Holm), so a digest does not cry wolf;
- top drivers: ``analytics.drivers.key_drivers`` over the three months to the month's end;
- rising themes: ``feedback.service.theme_summary`` for the month and the month before;
- cases and recovery: ``cases.service.case_counts`` and ``recovery_figures``;
- safety intake: ``safety.service.intake_counts`` (counts only, never a narrative);
- initiatives shipped and their effect: ``initiatives.evidence.before_after``;
- at-risk stakeholders: the top 10% by predicted risk of ``cpxm.predict``'s scoring as of the
  month's end (``predict.service.top_risk_people``), or, with no such scoring, the rule of
  ``analytics.disengagement``, saying which; by the team that had most contact with each, named
  only as ``cpxm.access`` lets the reader see;
- maturity stage (leadership): ``initiatives.maturity.maturity_assessment``.

Every count about people passes the workspace's minimum cell size (``cpxm.access.cells``).
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.access import Principal, cells, shield_analytics_rows
from cpxm.access.records import hidden_person_types
from cpxm.analytics import stats
from cpxm.analytics.disengagement import DisengagementQuery, silent_disengagement
from cpxm.analytics.drivers import DriverQuery, key_drivers, surveys_with_drivers
from cpxm.analytics.facts import Slice, dimension_labels
from cpxm.analytics.metrics import MetricCell, MetricQuery, metric_report
from cpxm.cases.service import case_counts, recovery_figures
from cpxm.errors import DomainError, FieldError
from cpxm.feedback.service import theme_summary
from cpxm.initiatives.evidence import Comparison, before_after
from cpxm.initiatives.maturity import maturity_assessment
from cpxm.initiatives.models import Initiative
from cpxm.interactions.models import Interaction
from cpxm.predict.service import top_risk_people
from cpxm.safety.service import intake_counts
from cpxm.stakeholders.models import Stakeholder
from cpxm.workspace.models import Department, TherapeuticArea

HEADLINE_METRICS = ("nps", "csat", "ces")
LEADERSHIP = "leadership"
AUDIENCE_KINDS = ("department", "therapeutic_area")
# Segments whose month-on-month movements the digest tests; an audience's own dimension is
# left out (it is the same for every answer in its digest).
MOVEMENT_DIMENSIONS = ("stakeholder_type", "channel", "country", "department", "therapeutic_area")
DRIVER_MONTHS = 3  # one month rarely has the 50 complete responses a driver model needs
TOP_DRIVERS = 5
RISING_THEMES = 5
AT_RISK_NAMES_PER_TEAM = 10
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Audience:
    """Leadership (everything), one department, or one therapeutic area."""

    kind: str  # leadership, department or therapeutic_area
    code: str | None
    name: str

    @property
    def key(self) -> str:
        return self.kind if self.code is None else f"{self.kind}:{self.code}"

    @property
    def filters(self) -> tuple[tuple[str, str], ...]:
        return () if self.code is None else ((self.kind, self.code),)


@dataclass(frozen=True)
class Month:
    key: str  # YYYY-MM
    first: date
    last: date

    @property
    def previous(self) -> Month:
        return month_of((self.first - timedelta(days=1)).strftime("%Y-%m"))

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time())

    @property
    def end(self) -> datetime:  # exclusive
        return datetime.combine(self.last + timedelta(days=1), time())

    @property
    def label(self) -> str:
        return self.first.strftime("%B %Y")


@dataclass(frozen=True)
class Headline:
    metric: str
    label: str
    unit: str
    current: MetricCell | None
    previous: MetricCell | None


@dataclass(frozen=True)
class Movement:
    metric: str
    dimension: str
    segment: str
    previous: float
    current: float
    difference: float
    n: int
    adjusted_p: float


@dataclass(frozen=True)
class DriverLine:
    label: str
    importance_percent: float
    performance_percent: float
    quadrant: str


@dataclass(frozen=True)
class RisingTheme:
    code: str
    label: str
    current: int | None  # None: below the minimum cell size
    previous: int | None


@dataclass(frozen=True)
class CaseFigures:
    opened: int
    closed: int
    open_at_end: int
    recovery_answered: int
    recovered: int

    @property
    def recovery_rate(self) -> float | None:
        return self.recovered / self.recovery_answered if self.recovery_answered else None


@dataclass(frozen=True)
class ShippedInitiative:
    code: str
    title: str
    shipped_on: date
    complete: bool  # the after-window is over
    comparisons: list[Comparison]


@dataclass(frozen=True)
class AtRiskPerson:
    """One row of the at-risk list, shaped for ``cpxm.access.shield_analytics_rows``."""

    stakeholder_id: int | None
    stakeholder_type: str
    name: str
    rate_ratio: float | None  # the rule's measure, when the rule found them
    risk: float | None = None  # the model's, when the model found them
    stakeholder_key: str | None = None


@dataclass(frozen=True)
class AtRiskTeam:
    team: str  # the department with most contact with them in the last year
    count: int | None  # None: fewer than the minimum cell size
    people: list[AtRiskPerson]  # empty when the reader may not see names


@dataclass(frozen=True)
class MaturityLine:
    capability: str
    stage: str


@dataclass(frozen=True)
class Digest:
    month: Month
    audience: Audience
    generated_at: datetime
    min_cell: int
    headlines: list[Headline]
    movements: list[Movement]
    movements_tested: int
    driver_survey: str | None
    driver_n: int
    drivers: list[DriverLine]
    rising_themes: list[RisingTheme]
    cases: CaseFigures
    safety: dict[str, int]
    initiatives: list[ShippedInitiative]
    at_risk_method: str
    at_risk: list[AtRiskTeam]
    at_risk_names_shown: bool
    maturity_stage: str | None
    maturity: list[MaturityLine] = field(default_factory=list)
    trend: list[MetricCell] = field(default_factory=list)  # NPS over the last 12 months


def month_of(text: str) -> Month:
    """``YYYY-MM`` as a month, or an error saying what was expected."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise DomainError(f"month is '{text}', expected YYYY-MM such as 2025-06")
    year, number = int(match[1]), int(match[2])
    return Month(
        f"{year:04d}-{number:02d}",
        date(year, number, 1),
        date(year, number, calendar.monthrange(year, number)[1]),
    )


def audience_of(session: Session, text: str) -> Audience:
    """``leadership``, ``department:CODE`` or ``therapeutic_area:CODE`` (``ta:CODE``)."""
    text = text.strip()
    if text == LEADERSHIP:
        return Audience(LEADERSHIP, None, "Leadership")
    kind, _, code = text.partition(":")
    kind = {"ta": "therapeutic_area"}.get(kind, kind)
    if kind not in AUDIENCE_KINDS or not code:
        raise DomainError(
            f"audience is '{text}', expected leadership, department:CODE or therapeutic_area:CODE"
        )
    found: Department | TherapeuticArea | None = (
        session.get(Department, code)
        if kind == "department"
        else session.get(TherapeuticArea, code)
    )
    if found is None:
        table = Department if kind == "department" else TherapeuticArea
        known = ", ".join(session.scalars(select(table.code).order_by(table.code)))
        raise DomainError(f"audience is '{text}': no {kind} '{code}'; known: {known or 'none'}")
    return Audience(kind, code, found.name)


def audiences(session: Session) -> list[Audience]:
    """Every audience the workspace has: leadership, each department, each therapeutic area."""
    found = [Audience(LEADERSHIP, None, "Leadership")]
    for code, name in session.execute(select(Department.code, Department.name).order_by("code")):
        found.append(Audience("department", code, name))
    for code, name in session.execute(
        select(TherapeuticArea.code, TherapeuticArea.name).order_by("code")
    ):
        found.append(Audience("therapeutic_area", code, name))
    return found


def build_digest(
    session: Session,
    *,
    month: Month,
    audience: Audience,
    principal: Principal | None,
    now: datetime,
) -> Digest:
    """The digest of ``month`` for ``audience`` as ``principal`` may read it (None: an unnamed
    reader, who gets counts and no names)."""
    floor = cells.min_cell_size(session)
    headlines = [_headline(session, metric, month, audience) for metric in HEADLINE_METRICS]
    movements, tested = _movements(session, month, audience)
    driver_survey, driver_n, drivers = _drivers(session, month, audience)
    at_risk, names_shown, at_risk_method = _at_risk(session, month, audience, principal, floor)
    maturity_stage, maturity = None, []
    if audience.kind == LEADERSHIP:
        assessment = maturity_assessment(session, as_of=month.last)
        maturity_stage = assessment.overall_stage
        maturity = [MaturityLine(c.name, c.stage) for c in assessment.capabilities]
    trend = metric_report(
        session,
        MetricQuery(
            metric="nps",
            grain="month",
            slice=Slice(audience.filters, _months_back(month, 11).first, month.last),
        ),
    ).trend
    return Digest(
        month=month,
        audience=audience,
        generated_at=now,
        min_cell=floor,
        headlines=headlines,
        movements=movements,
        movements_tested=tested,
        driver_survey=driver_survey,
        driver_n=driver_n,
        drivers=drivers,
        rising_themes=_rising_themes(session, month, audience),
        cases=_cases(session, month, audience),
        safety=intake_counts(
            session,
            received_from=month.start,
            received_to=month.end,
            **_scope_keywords(audience),
        ),
        initiatives=_initiatives(session, month, audience),
        at_risk_method=at_risk_method,
        at_risk=at_risk,
        at_risk_names_shown=names_shown,
        maturity_stage=maturity_stage,
        maturity=maturity,
        trend=trend,
    )


def _scope_keywords(audience: Audience) -> dict[str, str | None]:
    return {
        "department": audience.code if audience.kind == "department" else None,
        "therapeutic_area": audience.code if audience.kind == "therapeutic_area" else None,
    }


def _months_back(month: Month, count: int) -> Month:
    for _ in range(count):
        month = month.previous
    return month


def _two_months(session: Session, query: MetricQuery, month: Month) -> tuple[
    MetricCell | None, MetricCell | None, str, str
]:  # fmt: skip
    report = metric_report(session, query)
    by_month = {cell.key[:7]: cell for cell in report.trend}
    return (
        by_month.get(month.key),
        by_month.get(month.previous.key),
        report.metric_label,
        report.unit,
    )


def _headline(session: Session, metric: str, month: Month, audience: Audience) -> Headline:
    query = MetricQuery(
        metric=metric,
        grain="month",
        slice=Slice(audience.filters, month.previous.first, month.last),
    )
    current, previous, label, unit = _two_months(session, query, month)
    return Headline(metric, label, unit, current, previous)


def _movements(session: Session, month: Month, audience: Audience) -> tuple[list[Movement], int]:
    """Segments whose score changed from the month before beyond chance, all tests corrected
    together (Holm) so that many segments do not make noise look like news."""
    candidates: list[tuple[Movement, float]] = []
    dimensions = [d for d in MOVEMENT_DIMENSIONS if d != audience.kind]
    both_months = Slice(audience.filters, month.previous.first, month.last)
    for metric in HEADLINE_METRICS:
        for dimension in dimensions:
            segments = metric_report(
                session, MetricQuery(metric=metric, segment=dimension, slice=both_months)
            ).segments
            labels = dimension_labels(session, dimension)
            for segment in segments:
                if segment.suppressed:
                    continue
                query = MetricQuery(
                    metric=metric,
                    grain="month",
                    slice=both_months.with_filter(dimension, segment.key),
                )
                current, previous, _label, _unit = _two_months(session, query, month)
                if (
                    current is None
                    or previous is None
                    or current.p_value is None
                    or current.value is None
                    or previous.value is None
                ):
                    continue
                movement = Movement(
                    metric, dimension, labels.get(segment.key, segment.key),
                    previous.value, current.value, current.value - previous.value,
                    current.n, 1.0,
                )  # fmt: skip
                candidates.append((movement, current.p_value))
    adjusted = stats.holm([p for _, p in candidates])
    significant = [
        replace(movement, adjusted_p=p)
        for (movement, _), p in zip(candidates, adjusted, strict=True)
        if p < 0.05
    ]
    significant.sort(key=lambda movement: -abs(movement.difference))
    return significant, len(candidates)


def _drivers(
    session: Session, month: Month, audience: Audience
) -> tuple[str | None, int, list[DriverLine]]:
    surveys = surveys_with_drivers(session)
    if not surveys:
        return None, 0, []
    code, name = surveys[0]
    window = Slice(audience.filters, _months_back(month, DRIVER_MONTHS - 1).first, month.last)
    try:
        report = key_drivers(session, DriverQuery(survey=code, slice=window))
    except FieldError:
        return name, 0, []
    if report.suppressed:
        return name, report.n, []
    ranked = sorted(report.drivers, key=lambda driver: -driver.importance_percent)
    return (
        name,
        report.n,
        [
            DriverLine(d.label, d.importance_percent, d.performance_percent, d.quadrant)
            for d in ranked[:TOP_DRIVERS]
        ],
    )


def _rising_themes(session: Session, month: Month, audience: Audience) -> list[RisingTheme]:
    scope = _scope_keywords(audience)
    now_counts = theme_summary(session, received_from=month.start, received_to=month.end, **scope)
    before = {
        code: items
        for code, _label, items, _negative in theme_summary(
            session, received_from=month.previous.start, received_to=month.start, **scope
        )
    }
    rising = []
    for code, label, items, _negative in now_counts:
        if items is None:  # too few to show
            continue
        previous = before.get(code)
        if previous is not None and items <= previous:
            continue
        rising.append(RisingTheme(code, label, items, previous))
    # Largest growth first; a theme new this month (or below the floor before) leads.
    rising.sort(key=lambda theme: -(theme.current or 0) / max(theme.previous or 0, 1))
    return rising[:RISING_THEMES]


def _cases(session: Session, month: Month, audience: Audience) -> CaseFigures:
    scope = _scope_keywords(audience)
    counts = case_counts(session, opened_from=month.start, opened_to=month.end, **scope)
    recovery = recovery_figures(session, answered_from=month.start, answered_to=month.end, **scope)
    return CaseFigures(
        opened=counts.opened,
        closed=counts.closed,
        open_at_end=counts.open_at_end,
        recovery_answered=recovery.answered,
        recovered=recovery.recovered,
    )


def _initiatives(session: Session, month: Month, audience: Audience) -> list[ShippedInitiative]:
    query = select(Initiative).where(
        Initiative.status == "shipped",
        Initiative.shipped_on.is_not(None),
        Initiative.shipped_on <= month.last,
        Initiative.shipped_on >= _months_back(month, 2).first,
    )
    if audience.kind == "therapeutic_area":
        query = query.where(
            (Initiative.therapeutic_area_code == audience.code)
            | Initiative.therapeutic_area_code.is_(None)
        )
    shipped = []
    for initiative in session.scalars(query.order_by(Initiative.shipped_on, Initiative.code)):
        result = before_after(session, initiative, as_of=month.last)
        if result is None or initiative.shipped_on is None:
            continue
        shipped.append(
            ShippedInitiative(
                initiative.code,
                initiative.title,
                initiative.shipped_on,
                result.complete,
                result.comparisons,
            )
        )
    return shipped


RULE_METHOD = (
    "silent disengagement: contact in the last 120 days fell below 35% of the year's rate (a "
    "rule: no prediction model has scored people as of this month; `cpxm predict fit` and "
    "`cpxm predict score` put the predicted risk here)"
)


@dataclass(frozen=True)
class _Flagged:
    stakeholder_id: int
    stakeholder_type: str
    risk: float | None  # the model's, when it found them
    rate_ratio: float | None  # the rule's, when it found them


def _flagged(session: Session, month: Month, hidden: tuple[str, ...]) -> tuple[list[_Flagged], str]:
    """Who is at risk at the end of ``month``, and how they were found: the prediction model's
    top 10% when a scoring as of then exists, else the silent-disengagement rule."""
    top = top_risk_people(session, through=month.end, exclude_types=hidden)
    if top is not None:
        method = (
            f"predicted risk: the {top.share:.0%} of the {top.scored:,} people scored by model "
            f"v{top.model_version} as of {top.as_of:%Y-%m-%d} most likely to turn detractor or "
            "disengage in the next 90 days (`cpxm predict`)"
        )
        return [_Flagged(sid, kind, risk, None) for sid, kind, risk in top.people], method
    rule = silent_disengagement(
        session, DisengagementQuery(as_of=month.last, limit=10_000, exclude_types=hidden)
    ).flagged
    people = [_Flagged(p.stakeholder_id, p.stakeholder_type, None, p.rate_ratio) for p in rule]
    return people, RULE_METHOD


def _at_risk(
    session: Session,
    month: Month,
    audience: Audience,
    principal: Principal | None,
    floor: int,
) -> tuple[list[AtRiskTeam], bool, str]:
    """People at risk (see :func:`_flagged`), by the team (department) that had most contact
    with them; names only for a reader ``cpxm.access`` lets see them."""
    hidden = hidden_person_types(principal) if principal is not None else ()
    flagged, method = _flagged(session, month, hidden)
    if not flagged:
        return [], principal is not None, method
    ids = [person.stakeholder_id for person in flagged]
    since = datetime.combine(month.last - timedelta(days=365), time())
    contact = session.execute(
        select(Interaction.stakeholder_id, Interaction.department_code, func.count())
        .where(Interaction.stakeholder_id.in_(ids), Interaction.occurred_at >= since)
        .group_by(Interaction.stakeholder_id, Interaction.department_code)
    ).all()
    most: dict[int, tuple[int, str]] = {}
    for stakeholder_id, department, count in contact:
        if stakeholder_id not in most or (count, department) > most[stakeholder_id]:
            most[stakeholder_id] = (count, department)
    team_of = {stakeholder_id: department for stakeholder_id, (_, department) in most.items()}
    if audience.kind == "department":
        flagged = [p for p in flagged if team_of.get(p.stakeholder_id) == audience.code]
    elif audience.kind == "therapeutic_area":
        in_area = set(
            session.scalars(
                select(Interaction.stakeholder_id)
                .where(
                    Interaction.stakeholder_id.in_(ids),
                    Interaction.therapeutic_area_code == audience.code,
                    Interaction.occurred_at >= since,
                )
                .distinct()
            )
        )
        flagged = [p for p in flagged if p.stakeholder_id in in_area]
    teams = Counter(team_of.get(p.stakeholder_id, "(none)") for p in flagged)
    labels = dimension_labels(session, "department")
    names: dict[int, str] = {}
    if principal is not None and flagged:
        names = dict(
            session.execute(
                select(Stakeholder.id, Stakeholder.display_name).where(
                    Stakeholder.id.in_([p.stakeholder_id for p in flagged])
                )
            ).all()
        )
    result = []
    for team, count in teams.most_common():
        people: list[AtRiskPerson] = []
        if principal is not None and count >= floor:
            rows = [
                AtRiskPerson(p.stakeholder_id, p.stakeholder_type,
                             names.get(p.stakeholder_id, ""), p.rate_ratio, p.risk)
                for p in flagged
                if team_of.get(p.stakeholder_id, "(none)") == team
            ][:AT_RISK_NAMES_PER_TEAM]  # fmt: skip
            people = shield_analytics_rows(
                session, principal, rows, comment_field=None, via="monthly digest"
            )
        result.append(AtRiskTeam(labels.get(team, team), count if count >= floor else None, people))
    return result, principal is not None, method
