"""Employee experience beside the customer experience it drives: the EX-CX page's figures.

The employee pulse is a confidential survey (:mod:`cpxm.access.confidential`), so it is computed
here and nowhere else, over fixed groups only: one team in one pulse wave. A team-wave cell with
fewer respondents than the workspace's minimum cell size is hidden, and so are enough others in
the same wave that none can be recovered from the wave's total (complementary suppression,
:func:`cpxm.access.cells.complementary`), for each measure on its own (people may skip an item).
Nothing sums a team over waves, so no cell can be worked out from another period either.

Beside each team's pulse stand the customers that team served in the same period (from one
wave's first invitation to the next wave's): CSAT and CES of the after-contact surveys its
interactions triggered, NPS of relationship answers whose last contact from an employee, in the
``attribution_days`` before, came from the team, the team's contacts per customer served, and
the ping-pong episodes it was part of (a customer contacted by three or more departments in one
calendar week, one of them through the team). Across teams and waves, the association of each
enabler with customer NPS, CSAT and CES is a least-squares slope with a 95% interval from a
bootstrap over teams (a team's waves move together). It is association, not effect.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
from scipy import stats as scipy_stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import cells
from cpxm.analytics import stats
from cpxm.analytics.ex_summary import CustomerSide, kept_customer_side
from cpxm.analytics.facts import EMPLOYEE_SURVEY_KINDS
from cpxm.analytics.models import ENABLERS
from cpxm.analytics.query import as_datetime, fetch, table
from cpxm.errors import FieldError, field_error
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Answer, Invitation, Question, Response, Survey
from cpxm.workspace.models import Team

NO_TEAM = "(no team)"
OUTCOMES = ("nps", "csat", "ces")
PING_PONG_DEPARTMENTS = 3
BOOTSTRAP_DRAWS = 2000
VERBATIMS_PER_TEAM = 12
CAVEAT = (
    "Association across teams, not cause: teams differ in more than their enablers (customers, "
    "products, countries). An interval that excludes zero says the association is unlikely to "
    "be chance; it does not say that improving the enabler will move the customer score."
)


@dataclass(frozen=True)
class ExQuery:
    survey: str | None = None  # the pulse's code; default: the employee pulse
    wave: str | None = None  # default: the latest wave
    attribution_days: int = 30


@dataclass(frozen=True)
class Cell:
    """A figure over one group: hidden (no value, no n) when the group is too small or when it
    could be worked out from the others and the total."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None
    suppressed: bool

    @staticmethod
    def hidden() -> Cell:
        return Cell(None, None, None, None, True)


@dataclass(frozen=True)
class TeamRow:
    team_id: int | None
    team: str
    department: str | None
    respondents: int | None  # None: hidden
    response_rate: Cell  # percent of invited employees who answered
    enps: Cell
    enablers: dict[str, Cell]
    customer: dict[str, Cell]  # nps, csat, ces of the customers the team served
    contacts: int
    customers_served: int
    contacts_per_customer: float | None
    ping_pong_episodes: int


@dataclass(frozen=True)
class Association:
    enabler: str
    outcome: str
    slope: float | None  # customer points per enabler point
    ci_low: float | None
    ci_high: float | None
    correlation: float | None
    points: int  # team-waves with both figures shown
    teams: int


@dataclass(frozen=True)
class TrendRow:
    team_id: int | None
    team: str
    enps: dict[str, Cell]  # by wave
    response_rate: dict[str, Cell]
    enablers: dict[str, dict[str, Cell]]  # by wave, by enabler


@dataclass(frozen=True)
class WaveSummary:
    wave: str
    starts: datetime
    invited: int
    respondents: int
    enps: Cell
    enablers: dict[str, Cell]


@dataclass(frozen=True)
class ExReport:
    survey: str
    survey_name: str
    wave: str | None
    waves: list[WaveSummary]
    period_start: datetime | None
    period_end: datetime | None
    min_cell_size: int
    enablers: list[str]
    teams: list[TeamRow]
    associations: list[Association]
    trend: list[TrendRow]
    verbatims: dict[str, list[str]]  # team -> redacted comments, for teams shown in the wave
    caveat: str = CAVEAT
    notes: list[str] = field(default_factory=list)


# --- the pulse, over fixed groups -------------------------------------------------------------


def pulse_survey(session: Session, code: str | None) -> Survey:
    """The confidential pulse the page is about (``code``, or the employee pulse)."""
    query = select(Survey).where(Survey.confidential.is_(True))
    if code:
        query = query.where(Survey.code == code)
    else:
        query = query.order_by((Survey.kind == "employee_pulse").desc(), Survey.id)
    found = session.scalars(query.limit(1)).first()
    if found is None:
        message = f"no confidential survey '{code}'" if code else "no confidential survey (a pulse)"
        raise FieldError([field_error("survey", message, code, kind="not_found")])
    return found


def _questions(session: Session, survey: Survey) -> tuple[int | None, dict[str, int]]:
    rows = session.execute(
        select(Question.id, Question.code, Question.question_type).where(
            Question.survey_id == survey.id, Question.removed_in_version.is_(None)
        )
    ).all()
    enps = next((qid for qid, _code, kind in rows if kind == "nps"), None)
    enablers = {code: qid for qid, code, _kind in rows if code in ENABLERS}
    return enps, enablers


# Ibis takes longer to build this page's joins (a few milliseconds each, a dozen per view) than
# SQLite takes to answer most of them, so each query is built once per set of parameters (a
# survey, its questions, its waves, a period) and kept; Ibis expressions never change.
_built_once = functools.lru_cache(maxsize=64)


@_built_once
def _wave_starts_query(survey_id: int) -> ir.Table:
    invitations = table("invitations")
    chosen = invitations.filter(invitations.survey_id == survey_id, invitations.wave.notnull())
    return (
        chosen.group_by("wave")
        .aggregate(starts=chosen.sent_at.min(), invited=chosen.count())
        .order_by("starts")
    )


def wave_starts(session: Session, survey_id: int) -> list[tuple[str, datetime, int]]:
    """Each wave of the survey: its label, first invitation and invitations, oldest first."""
    found = []
    for row in fetch(session, _wave_starts_query(survey_id), on_store=True):
        starts = as_datetime(row["starts"])
        if starts is not None:
            found.append((str(row["wave"]), starts, int(row["invited"])))
    return found


@_built_once
def _invitation_counts_query(survey_id: int) -> ir.Table:
    invitations = table("invitations")
    people = table("stakeholders").select(p_id="id", team_id="team_id")
    joined = invitations.filter(
        invitations.survey_id == survey_id, invitations.wave.notnull()
    ).join(people, invitations.stakeholder_id == people.p_id)
    return joined.group_by("wave", "team_id").aggregate(
        invited=joined.count(), answered=(joined.status == "completed").ifelse(1, 0).sum()
    )


def _invitation_counts(session: Session, survey_id: int) -> dict[tuple[str, int | None], list[int]]:
    return {
        (str(row["wave"]), _team(row["team_id"])): [int(row["invited"]), int(row["answered"])]
        for row in fetch(session, _invitation_counts_query(survey_id), on_store=True)
    }


def _team(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _pulse_moments(
    session: Session, survey_id: int, question_ids: list[int]
) -> dict[tuple[str, int | None, int], stats.Moments]:
    """(wave, team, question) -> the moments of the complete responses' answers."""
    return {
        (str(row["wave"]), _team(row["team_id"]), int(row["question_id"])): _moments(row)
        for row in fetch(
            session, _pulse_moments_query(survey_id, tuple(question_ids)), on_store=True
        )
        if row["wave"] is not None
    }


@_built_once
def _pulse_moments_query(survey_id: int, question_ids: tuple[int, ...]) -> ir.Table:
    answers = table("answers")
    responses = table("responses")
    invitations = table("invitations").select(i_id="id", wave="wave")
    people = table("stakeholders").select(p_id="id", team_id="team_id")
    complete = responses.filter(
        responses.survey_id == survey_id, responses.status == "complete"
    ).select(r_id="id", r_invitation="invitation_id", r_person="stakeholder_id")
    valid = answers.filter(
        answers.question_id.isin(question_ids), answers.value_number.notnull()
    ).select(response_id="response_id", question_id="question_id", value="value_number")
    joined = (
        valid.join(complete, valid.response_id == complete.r_id)
        .join(invitations, complete.r_invitation == invitations.i_id)
        .join(people, complete.r_person == people.p_id)
    )
    return joined.group_by("wave", "team_id", "question_id").aggregate(
        n=joined.count(),
        total=joined.value.sum(),
        total_squares=(joined.value * joined.value).sum(),
        promoters=(joined.value >= 9).ifelse(1, 0).sum(),
        detractors=(joined.value <= 6).ifelse(1, 0).sum(),
    )


def _moments(row: dict[str, object]) -> stats.Moments:
    return stats.Moments(
        n=int(row["n"]),  # type: ignore[call-overload]
        total=float(row["total"] or 0.0),  # type: ignore[arg-type]
        total_squares=float(row["total_squares"] or 0.0),  # type: ignore[arg-type]
        promoters=int(row.get("promoters") or 0),  # type: ignore[call-overload]
        detractors=int(row.get("detractors") or 0),  # type: ignore[call-overload]
    )


def _score_cell(moments: stats.Moments, kind: str) -> Cell:
    if kind == "nps":
        estimate = stats.nps_estimate(moments)
        return Cell(estimate.value, estimate.ci_low, estimate.ci_high, moments.n, False)
    # stats.mean_estimate's t interval, its quantile looked up once per n (a page has hundreds)
    margin = _t_975(moments.n) * math.sqrt(moments.variance / moments.n)
    mean = moments.mean
    return Cell(mean, mean - margin, mean + margin, moments.n, False)


@functools.cache
def _t_975(n: int) -> float:
    return float(scipy_stats.t.ppf(0.975, n - 1)) if n > 1 else 0.0


def _suppressed_row(
    sizes: dict[int | None, stats.Moments], kind: str, min_n: int
) -> dict[int | None, Cell]:
    """One wave's cells for one measure across teams, small ones and their complements hidden
    (the wave's total over every team is shown beside them)."""
    teams = list(sizes)
    hidden = cells.complementary([sizes[t].n for t in teams], min_n=min_n, total_shown=True)
    return {
        team: Cell.hidden() if index in hidden else _score_cell(sizes[team], kind)
        for index, team in enumerate(teams)
    }


# --- the customers each team served -----------------------------------------------------------


def _wave_of(column: ir.TimestampValue, waves: list[tuple[str, datetime, int]]) -> ir.Value:
    """The wave whose period holds the time: from its first invitation to the next wave's.

    Compared with the waves' start times as they are, newest first, so each row costs a few
    comparisons (on SQLite, of ISO text) and no conversion of every row's time."""
    branches = [
        (column >= ibis.literal(starts), label) for label, starts, _invited in reversed(waves)
    ]
    return ibis.cases(*branches, else_=ibis.null("string"))


@_built_once
def _team_interactions(start: datetime | None = None, end: datetime | None = None) -> ir.Table:
    """Interactions an employee made (in ``[start, end)`` when given), with the team."""
    interactions = table("interactions")
    made = interactions.filter(interactions.employee_id.notnull())
    if start is not None:
        made = made.filter(made.occurred_at >= ibis.literal(start))
    if end is not None:
        made = made.filter(made.occurred_at < ibis.literal(end))
    employees = table("stakeholders").select(e_id="id", team_id="team_id")
    joined = made.join(employees, made.employee_id == employees.e_id)
    return joined.select(
        interaction_id=joined.id,
        customer=joined.stakeholder_id,
        occurred_at=joined.occurred_at,
        team_id=joined.team_id,
    )


def _contacts(session: Session, served: ir.Table) -> dict[int | None, tuple[int, int]]:
    return _contact_rows(fetch(session, _contacts_query(served), on_store=True))


def _contacts_query(served: ir.Table) -> ir.Table:
    return served.group_by("team_id").aggregate(
        contacts=served.count(), customers=served.customer.nunique()
    )


def _contact_rows(rows: list[dict[str, object]]) -> dict[int | None, tuple[int, int]]:
    return {
        _team(row["team_id"]): (int(row["contacts"]), int(row["customers"]))  # type: ignore[call-overload]
        for row in rows
    }


@_built_once
def _period_queries(start: datetime, end: datetime | None) -> tuple[ir.Table, ir.Table]:
    """The contacts and the ping-pong episodes per team of one wave's period."""
    served = _team_interactions(start, end)
    return _contacts_query(served), _ping_pong_query(served, start, end)


def _after_contact_scores(
    session: Session, waves: list[tuple[str, datetime, int]]
) -> dict[tuple[str, int | None, str], stats.Moments]:
    """CSAT and CES of the surveys a team's contacts triggered, by the wave of the answer.

    From the answers to CSAT and CES questions (an index holds them with their values) through
    their response, invitation and triggering contact, each by its key, to the employee's team;
    only the columns the figures need, so no row is read whole."""
    kinds = {
        question_id: kind
        for question_id, kind in session.execute(
            select(Question.id, Question.question_type).where(
                Question.question_type.in_(("csat", "ces"))
            )
        )
    }
    if not kinds or not waves:
        return {}
    found: dict[tuple[str, int | None, str], stats.Moments] = {}
    for row in fetch(
        session, _after_contact_query(tuple(sorted(kinds)), tuple(waves)), on_store=True
    ):
        key = (str(row["wave"]), _team(row["team_id"]), kinds[int(row["question_id"])])
        found[key] = found[key] + _moments(row) if key in found else _moments(row)
    return found


@_built_once
def _after_contact_query(
    question_ids: tuple[int, ...], waves: tuple[tuple[str, datetime, int], ...]
) -> ir.Table:
    answers = table("answers")
    chosen = answers.filter(
        answers.question_id.isin(question_ids), answers.value_number.notnull()
    ).select(a_response="response_id", question_id="question_id", value="value_number")
    responses = table("responses")
    complete = responses.filter(responses.status == "complete").select(
        r_id="id", r_invitation="invitation_id", submitted_at="submitted_at"
    )
    invitations = table("invitations")
    triggered = invitations.filter(invitations.trigger_interaction_id.notnull()).select(
        i_id="id", trigger="trigger_interaction_id"
    )
    interactions = table("interactions")
    made = interactions.filter(interactions.employee_id.notnull()).select(
        x_id="id", employee="employee_id"
    )
    employees = table("stakeholders").select(e_id="id", team_id="team_id")
    joined = (
        chosen.join(complete, chosen.a_response == complete.r_id)
        .join(triggered, complete.r_invitation == triggered.i_id)
        .join(made, triggered.trigger == made.x_id)
        .join(employees, made.employee == employees.e_id)
    )
    joined = joined.mutate(wave=_wave_of(joined.submitted_at, list(waves)))
    dated = joined.filter(joined.wave.notnull())
    return dated.group_by("wave", "team_id", "question_id").aggregate(
        n=dated.count(),
        total=dated.value.sum(),
        total_squares=(dated.value * dated.value).sum(),
    )


def _last_touch_nps(
    session: Session, waves: list[tuple[str, datetime, int]], days: int
) -> dict[tuple[str, int | None], stats.Moments]:
    """Customers' NPS answers, each to the team of the last employee contact in the ``days``
    before it (customer surveys only: never the pulse).

    A correlated subquery per answer, not a range join: it walks the (stakeholder, time) index
    backwards to the one contact it needs, where the join compared every pair (a second at
    demo scale 1 on SQLite, whose date arithmetic Ibis cannot write before SQLite 3.46)."""
    last_contact = (
        select(Interaction.id)
        .where(
            Interaction.stakeholder_id == Response.stakeholder_id,
            Interaction.employee_id.is_not(None),
            Interaction.occurred_at < Response.submitted_at,
        )
        .order_by(Interaction.occurred_at.desc())
        .limit(1)
        .correlate(Response)
        .scalar_subquery()
    )
    customer_nps = (
        select(Question.id)
        .join(Survey, Survey.id == Question.survey_id)
        .where(
            Question.question_type == "nps",
            Survey.confidential.is_(False),
            Survey.kind.not_in(EMPLOYEE_SURVEY_KINDS),
        )
    )
    answered = session.execute(
        select(Response.submitted_at, Answer.value_number, last_contact)
        .join(Answer, Answer.response_id == Response.id)
        .where(
            Answer.question_id.in_(customer_nps),
            Answer.value_number.between(0, 10),
            Response.status == "complete",
            Response.stakeholder_id.is_not(None),
            Response.submitted_at >= waves[0][1],
        )
    ).all()
    contact_ids = sorted({row[2] for row in answered if row[2] is not None})
    contacts: dict[int, tuple[datetime, int | None]] = {}
    for start in range(0, len(contact_ids), 5000):
        chunk = contact_ids[start : start + 5000]
        for contact_id, occurred_at, team_id in session.execute(
            select(Interaction.id, Interaction.occurred_at, Stakeholder.team_id)
            .join(Stakeholder, Stakeholder.id == Interaction.employee_id)
            .where(Interaction.id.in_(chunk))
        ):
            contacts[contact_id] = (occurred_at, team_id)
    starts = [starts for _label, starts, _invited in waves]
    grouped: dict[tuple[str, int | None], list[float]] = defaultdict(list)
    for submitted_at, score, contact_id in answered:
        if contact_id is None or contact_id not in contacts or submitted_at is None:
            continue
        occurred_at, team_id = contacts[contact_id]
        if submitted_at - occurred_at > timedelta(days=days):
            continue
        wave = waves[bisect.bisect_right(starts, submitted_at) - 1][0]
        grouped[(wave, team_id)].append(float(score))
    return {key: _moments_of(values) for key, values in grouped.items()}


def _moments_of(values: list[float]) -> stats.Moments:
    return stats.Moments(
        n=len(values),
        total=sum(values),
        total_squares=sum(v * v for v in values),
        promoters=sum(v >= 9 for v in values),
        detractors=sum(v <= 6 for v in values),
    )


def _ping_pong_query(served: ir.Table, start: datetime, end: datetime | None) -> ir.Table:
    """Episodes a team was part of in the period: a customer contacted by three or more
    departments in one calendar week, one contact through the team."""
    interactions = table("interactions")
    outbound = interactions.filter(
        interactions.direction == "outbound",
        interactions.occurred_at >= ibis.literal(start - timedelta(days=7)),
    )
    if end is not None:
        outbound = outbound.filter(outbound.occurred_at < ibis.literal(end + timedelta(days=7)))
    weeks = outbound.group_by(
        p_customer=outbound.stakeholder_id, p_week=outbound.occurred_at.truncate("W")
    ).aggregate(departments=outbound.department_code.nunique())
    episodes = weeks.filter(weeks.departments >= PING_PONG_DEPARTMENTS)
    dated = served.mutate(week=served.occurred_at.truncate("W"))
    part = dated.join(
        episodes, [dated.customer == episodes.p_customer, dated.week == episodes.p_week]
    )
    distinct = part.select("team_id", "customer", "week").distinct()
    return distinct.group_by("team_id").aggregate(episodes=distinct.count())


def customer_side_from_facts(
    session: Session, waves: list[tuple[str, datetime, int]], labels: list[str], days: int
) -> CustomerSide:
    """The customers each team served: contacts and ping-pong in each of ``labels``' periods,
    after-contact CSAT/CES and last-touch NPS (``days``) in every wave, from the facts."""
    contacts: dict[str, dict[int | None, tuple[int, int]]] = {}
    ping_pong: dict[str, dict[int | None, int]] = {}
    for label in labels:
        start, end = _period(waves, label)
        if start is None:
            continue
        contacts_query, ping_pong_query = _period_queries(start, end)
        contacts[label] = _contact_rows(fetch(session, contacts_query, on_store=True))
        ping_pong[label] = {
            _team(row["team_id"]): int(row["episodes"])
            for row in fetch(session, ping_pong_query, on_store=True)
        }
    return CustomerSide(
        contacts=contacts,
        ping_pong=ping_pong,
        after_contact=_after_contact_scores(session, waves),
        last_touch=_last_touch_nps(session, waves, days),
    )


# --- association across teams ------------------------------------------------------------------


def association(
    points: list[tuple[int | None, float, float]], *, enabler: str, outcome: str, seed: int = 19
) -> Association:
    """Least-squares slope of the outcome on the enabler over (team, x, y) points, with a 95%
    percentile interval from resampling whole teams (a team's points are not independent)."""
    teams = sorted({team for team, _x, _y in points}, key=lambda t: -1 if t is None else t)
    if len(points) < 4 or len(teams) < 4:
        return Association(enabler, outcome, None, None, None, None, len(points), len(teams))
    index = {team: i for i, team in enumerate(teams)}
    sums = np.zeros((len(teams), 6))  # n, x, y, xx, yy, xy per team
    for team, x, y in points:
        sums[index[team]] += (1.0, x, y, x * x, y * y, x * y)
    slope, correlation = _slope(sums.sum(axis=0))
    if slope is None:
        return Association(enabler, outcome, None, None, None, None, len(points), len(teams))
    drawn = _bootstrap_weights(len(teams), seed) @ sums
    n, sx, sy, sxx, _syy, sxy = drawn.T
    variance_x = sxx - sx * sx / n
    usable = variance_x > 1e-12
    slopes = (sxy[usable] - sx[usable] * sy[usable] / n[usable]) / variance_x[usable]
    low, high = (
        (float(np.quantile(slopes, 0.025)), float(np.quantile(slopes, 0.975)))
        if len(slopes) >= BOOTSTRAP_DRAWS // 2
        else (None, None)
    )
    return Association(enabler, outcome, slope, low, high, correlation, len(points), len(teams))


@functools.lru_cache(maxsize=16)
def _bootstrap_weights(teams: int, seed: int) -> np.ndarray:
    """How often each team is drawn in each bootstrap resample: the same draws for every
    enabler and outcome over the same number of teams (a page asks for a dozen), made once."""
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(teams, np.full(teams, 1 / teams), BOOTSTRAP_DRAWS)
    weights.setflags(write=False)
    return weights


def _slope(total: np.ndarray) -> tuple[float | None, float | None]:
    n, sx, sy, sxx, syy, sxy = (float(v) for v in total)
    variance_x = sxx - sx * sx / n
    variance_y = syy - sy * sy / n
    if variance_x <= 1e-12:
        return None, None
    covariance = sxy - sx * sy / n
    correlation = covariance / math.sqrt(variance_x * variance_y) if variance_y > 1e-12 else None
    return covariance / variance_x, correlation


# --- the report --------------------------------------------------------------------------------


def ex_report(session: Session, query: ExQuery) -> ExReport:
    """Per team: the pulse (eNPS, enablers, response rate) beside the customers it served, the
    trend of eNPS, the association of each enabler with customer scores, and verbatims."""
    if not 1 <= query.attribution_days <= 365:
        raise FieldError(
            [
                field_error(
                    "attribution_days",
                    f"attribution_days is {query.attribution_days}, expected 1 to 365",
                    query.attribution_days,
                )
            ]
        )
    survey = pulse_survey(session, query.survey)
    min_n = cells.min_cell_size(session)
    enps_question, enabler_questions = _questions(session, survey)
    waves = wave_starts(session, survey.id)
    labels = [label for label, _starts, _invited in waves]
    if query.wave is not None and query.wave not in labels:
        allowed = ", ".join(labels) or "none yet"
        raise FieldError(
            [field_error("wave", f"unknown wave '{query.wave}'; waves: {allowed}", query.wave)]
        )
    wave = query.wave or (labels[-1] if labels else None)
    team_names = {
        team_id: (name, department)
        for team_id, name, department in session.execute(
            select(Team.id, Team.name, Team.department_code)
        )
    }
    measured = [q for q in (enps_question, *enabler_questions.values()) if q is not None]
    moments = _pulse_moments(session, survey.id, measured) if measured and waves else {}
    invitations = _invitation_counts(session, survey.id) if waves else {}
    # Every team with invitations in any wave, in name order; the unassigned last.
    teams = sorted(
        {team for (_wave, team) in invitations},
        key=lambda t: (t is None, team_names.get(t, (NO_TEAM, None))[0] if t else NO_TEAM),
    )

    # Cells per wave, per measure, suppressed across teams.
    def wave_cells(label: str, question: int | None, kind: str) -> dict[int | None, Cell]:
        if question is None:
            return {team: Cell.hidden() for team in teams}
        sizes = {team: moments.get((label, team, question), stats.ZERO) for team in teams}
        return _suppressed_row(sizes, kind, min_n)

    def rate_cells(label: str) -> dict[int | None, Cell]:
        counts = {team: invitations.get((label, team), [0, 0]) for team in teams}
        hidden = cells.complementary([counts[t][1] for t in teams], min_n=min_n, total_shown=True)
        shown: dict[int | None, Cell] = {}
        for index, team in enumerate(teams):
            invited, answered = counts[team]
            if index in hidden or invited == 0:
                shown[team] = Cell.hidden()
                continue
            estimate = stats.share_estimate(answered, invited)
            shown[team] = Cell(estimate.value, estimate.ci_low, estimate.ci_high, invited, False)
        return shown

    enps_by_wave = {label: wave_cells(label, enps_question, "nps") for label in labels}
    rates_by_wave = {label: rate_cells(label) for label in labels}
    enablers_by_wave = {
        label: {
            code: wave_cells(label, enabler_questions.get(code), "mean")
            for code in ENABLERS
            if code in enabler_questions
        }
        for label in labels
    }
    summaries = [
        _wave_summary(label, starts, invited, moments, enps_question, enabler_questions, min_n)
        for label, starts, invited in waves
    ]

    period_start, period_end = _period(waves, wave)
    contacts: dict[int | None, tuple[int, int]] = {}
    ping_pong: dict[int | None, int] = {}
    after_contact: dict[tuple[str, int | None, str], stats.Moments] = {}
    last_touch: dict[tuple[str, int | None], stats.Moments] = {}
    if period_start is not None and wave is not None:
        # From the summary the store keeps while it describes the facts; else from the facts.
        side = kept_customer_side(session, survey.id, query.attribution_days)
        if side is None:
            side = customer_side_from_facts(session, waves, [wave], query.attribution_days)
        contacts = side.contacts.get(wave, {})
        ping_pong = side.ping_pong.get(wave, {})
        after_contact = side.after_contact
        last_touch = side.last_touch

    @functools.cache
    def customer_cells(label: str, team: int | None) -> dict[str, Cell]:
        found = {
            "nps": last_touch.get((label, team), stats.ZERO),
            "csat": after_contact.get((label, team, "csat"), stats.ZERO),
            "ces": after_contact.get((label, team, "ces"), stats.ZERO),
        }
        return {
            kind: _score_cell(m, kind) if m.n >= min_n else Cell.hidden()
            for kind, m in found.items()
        }

    rows: list[TeamRow] = []
    if wave is not None:
        for team in teams:
            name, department = team_names.get(team, (NO_TEAM, None)) if team else (NO_TEAM, None)
            enps = enps_by_wave[wave][team]
            served_contacts, served_customers = contacts.get(team, (0, 0))
            rows.append(
                TeamRow(
                    team_id=team,
                    team=name,
                    department=department,
                    respondents=None if enps.suppressed else enps.n,
                    response_rate=rates_by_wave[wave][team],
                    enps=enps,
                    enablers={code: by[team] for code, by in enablers_by_wave[wave].items()},
                    customer=customer_cells(wave, team),
                    contacts=served_contacts,
                    customers_served=served_customers,
                    contacts_per_customer=served_contacts / served_customers
                    if served_customers
                    else None,
                    ping_pong_episodes=ping_pong.get(team, 0),
                )
            )

    # One point per team, over every wave: each team's waves pooled (a figure never shown,
    # over at least the minimum of answers), so a team's mean is measured well enough to
    # compare teams; the customer side over the same waves' periods.
    pooled_x: dict[tuple[str, int], stats.Moments] = defaultdict(lambda: stats.ZERO)
    for (_wave, team, question), m in moments.items():
        if team is not None:
            pooled_x[(str(question), team)] = pooled_x[(str(question), team)] + m
    pooled_y: dict[tuple[str, int], stats.Moments] = defaultdict(lambda: stats.ZERO)
    for (_wave, team), m in last_touch.items():
        if team is not None:
            pooled_y[("nps", team)] = pooled_y[("nps", team)] + m
    for (_wave, team, kind), m in after_contact.items():
        if team is not None:
            pooled_y[(kind, team)] = pooled_y[(kind, team)] + m
    associations = []
    for code in [c for c in ENABLERS if c in enabler_questions]:
        for outcome in OUTCOMES:
            points: list[tuple[int | None, float, float]] = []
            for team in teams:
                if team is None:
                    continue
                x = pooled_x.get((str(enabler_questions[code]), team), stats.ZERO)
                y = pooled_y.get((outcome, team), stats.ZERO)
                if x.n >= min_n and y.n >= min_n:
                    y_value = stats.nps_estimate(y).value if outcome == "nps" else y.mean
                    points.append((team, x.mean, y_value))
            associations.append(association(points, enabler=code, outcome=outcome))

    trend = [
        TrendRow(
            team_id=team,
            team=team_names.get(team, (NO_TEAM, None))[0] if team else NO_TEAM,
            enps={label: enps_by_wave[label][team] for label in labels},
            response_rate={label: rates_by_wave[label][team] for label in labels},
            enablers={
                label: {code: by[team] for code, by in enablers_by_wave[label].items()}
                for label in labels
            },
        )
        for team in teams
    ]
    shown_teams = [row.team_id for row in rows if not row.enps.suppressed]
    return ExReport(
        survey=survey.code,
        survey_name=survey.name,
        wave=wave,
        waves=summaries,
        period_start=period_start,
        period_end=period_end,
        min_cell_size=min_n,
        enablers=[code for code in ENABLERS if code in enabler_questions],
        teams=rows,
        associations=associations,
        trend=trend,
        verbatims=_verbatims(session, survey.id, wave, shown_teams, team_names)
        if wave is not None
        else {},
    )


def _wave_summary(
    label: str,
    starts: datetime,
    invited: int,
    moments: dict[tuple[str, int | None, int], stats.Moments],
    enps_question: int | None,
    enabler_questions: dict[str, int],
    min_n: int,
) -> WaveSummary:
    def total(question: int | None) -> stats.Moments:
        found = stats.ZERO
        for (wave, _team, q), m in moments.items():
            if wave == label and q == question:
                found = found + m
        return found

    def shown(m: stats.Moments, kind: str) -> Cell:
        return _score_cell(m, kind) if m.n >= min_n else Cell.hidden()

    enps = total(enps_question)
    return WaveSummary(
        wave=label,
        starts=starts,
        invited=invited,
        respondents=enps.n,
        enps=shown(enps, "nps"),
        enablers={code: shown(total(q), "mean") for code, q in enabler_questions.items()},
    )


def _period(
    waves: list[tuple[str, datetime, int]], wave: str | None
) -> tuple[datetime | None, datetime | None]:
    for index, (label, starts, _invited) in enumerate(waves):
        if label == wave:
            ends = waves[index + 1][1] if index + 1 < len(waves) else None
            return starts, ends
    return None, None


def _verbatims(
    session: Session,
    survey_id: int,
    wave: str,
    shown_teams: list[int | None],
    team_names: dict[int, tuple[str, str | None]],
) -> dict[str, list[str]]:
    """Redacted comments of the teams whose wave cell is shown, in an order that says nothing
    about who wrote when; never a comment the safety screening flagged (that goes to PV)."""
    if not shown_teams:
        return {}
    rows = session.execute(
        select(
            FeedbackItem.id,
            Stakeholder.team_id,
            FeedbackAnalysis.redacted_text,
            FeedbackAnalysis.safety_kinds,
        )
        .join(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
        .join(Response, Response.id == FeedbackItem.response_id)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .join(Stakeholder, Stakeholder.id == Response.stakeholder_id)
        .where(
            Response.survey_id == survey_id,
            Invitation.wave == wave,
            FeedbackAnalysis.redacted_text.is_not(None),
        )
    ).all()
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    shown = set(shown_teams)
    for item_id, team, text, safety_kinds in rows:
        if team not in shown or safety_kinds:
            continue
        name = team_names.get(team, (NO_TEAM, None))[0] if team else NO_TEAM
        order = hashlib.sha256(f"{item_id}:{wave}".encode()).hexdigest()
        found[name].append((order, str(text)))
    return {
        name: [text for _order, text in sorted(texts)[:VERBATIMS_PER_TEAM]]
        for name, texts in sorted(found.items())
    }
