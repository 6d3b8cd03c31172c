"""The crawl-walk-run maturity assessment: what the CX leads say, checked against what CPXM sees.

Five capabilities, each given a stage two ways:

- **Self-assessment**: the ``cx_maturity`` questionnaire, a CPXM survey sent to the CX leads
  through the normal survey path (consent, fatigue rules, personal links, the outbox). Each
  capability is one 1-3 question (crawl, walk, run); the stage is the median answer of the
  complete responses in the last year, rounded down.
- **Evidence** measured in the store: journey maps per stakeholder type, cases closed within
  their SLA, a complete RACI matrix, driver analysis that leads to initiatives, predictions that
  lead to outreach.

A capability's stage is the lower of the two (where the team and the data agree it stands);
where only one is known, that one. The overall stage is the lower median of the capability
stages. :func:`maturity_assessment` is the typed entry point the leadership digest calls.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, and_, case, func, or_, select
from sqlalchemy.orm import Session

from cpxm.access import cells
from cpxm.cases.models import Case
from cpxm.governance.models import ACTIVITIES, RaciAssignment
from cpxm.initiatives.models import Initiative
from cpxm.interactions.models import Interaction
from cpxm.journeys.models import Journey, JourneyStage
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.distribution import SendPlan, create_invitations
from cpxm.surveys.fatigue import holds_for
from cpxm.surveys.models import Answer, Invitation, Question, Response, Survey
from cpxm.surveys.service import save_definition
from cpxm.workspace.models import User

STAGES = ("crawl", "walk", "run")
QUESTIONNAIRE_CODE = "cx_maturity"
QUESTIONNAIRE_KIND = "maturity_assessment"
SELF_ASSESSMENT_DAYS = 365
SLA_WINDOW_DAYS = 90
DRIVER_WINDOW_DAYS = 365
DRIVER_MIN_RESPONSES = 50  # the key-driver analysis's own minimum (cpxm.analytics.drivers)
# Case kinds the outreach (next best action) work opens; the prediction module owns them.
OUTREACH_CASE_TYPES = ("outreach", "proactive_outreach", "next_best_action")
SLA_RUN_SHARE = 0.9
SLA_WALK_SHARE = 0.6
JOURNEY_RUN_SHARE = 0.8
JOURNEY_WALK_SHARE = 0.5


@dataclass(frozen=True)
class Capability:
    code: str
    name: str
    question: str
    stages: tuple[str, str, str]  # what crawl, walk and run look like
    next_steps: tuple[str, str, str]  # what to do at crawl, at walk, to stay at run


CAPABILITIES = (
    Capability(
        "journeys",
        "Journey management",
        "How well are our stakeholders' journeys mapped and managed?",
        (
            "Few or no journeys are mapped; touchpoints are managed department by department.",
            "Journeys are mapped for the main stakeholder types, with their moments of truth.",
            "Every stakeholder type we serve has a mapped journey that is measured stage by stage.",
        ),
        (
            "Map the journey of the largest stakeholder types first, with their moments of truth.",
            "Map the remaining stakeholder types and mark each journey's moments of truth.",
            "Review the journey maps each year against the funnel and moments of truth.",
        ),
    ),
    Capability(
        "closed_loop",
        "Closed loop",
        "How reliably do we follow up on feedback within the agreed time?",
        (
            "Follow-up depends on individuals; most cases miss their SLA.",
            "Most cases are closed within their SLA.",
            "Nearly every case is closed within its SLA and recovery is checked with the customer.",
        ),
        (
            "Route cases by the RACI matrix and sweep SLAs daily so owners see what is due.",
            "Close the cases that miss their SLA first; ask each recovered customer how it went.",
            "Keep the SLA share above 90% and watch the recovery score by team.",
        ),
    ),
    Capability(
        "governance",
        "Governance",
        "How clearly are responsibilities for customer experience assigned?",
        (
            "No one is formally responsible or accountable for CX activities.",
            "Some CX activities have a responsible and an accountable party.",
            "Every CX activity has a responsible and an accountable party (RACI complete).",
        ),
        (
            "Load a RACI matrix that names who is responsible and accountable for follow-ups.",
            "Give every remaining activity a responsible and an accountable party.",
            "Have the matrix re-signed when teams change.",
        ),
    ),
    Capability(
        "insight",
        "Insight to action",
        "How well do we turn survey analysis into prioritised improvements?",
        (
            "Scores are reported; too few answers for driver analysis, or no one analyses them.",
            "Key drivers are analysed, but improvements are not tied to the evidence.",
            "Improvements are prioritised on driver and theme evidence and measured after release.",
        ),
        (
            "Collect enough answers (50 per survey a year) to analyse what drives the score.",
            "Put each improvement in the initiatives backlog with its driver or theme evidence.",
            "Measure every shipped initiative before and after, and retire what did not work.",
        ),
    ),
    Capability(
        "prediction",
        "Prediction and proactive outreach",
        "How far do we predict who is drifting away and act before they tell us?",
        (
            "We react to complaints and low scores; no predictions are made.",
            "Risk is predicted, but predictions rarely lead to outreach.",
            "Predicted risk leads to coordinated outreach whose outcome is recorded.",
        ),
        (
            "Fit the risk model (`cpxm predict fit`) and score stakeholders each month.",
            "Accept next-best actions for the highest risks so they become tasks for a team.",
            "Compare outreach with no outreach each quarter and keep what moves the score.",
        ),
    ),
)
CAPABILITY_CODES = tuple(capability.code for capability in CAPABILITIES)


@dataclass(frozen=True)
class EvidenceFact:
    label: str
    value: str


@dataclass(frozen=True)
class SelfAssessment:
    """The CX leads' answers to one capability's question (1 crawl, 2 walk, 3 run)."""

    respondents: int
    median: float | None
    stage: str | None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CapabilityAssessment:
    code: str
    name: str
    stage: str  # crawl, walk or run: the lower of evidence and self-assessment
    evidence_stage: str | None  # None: not measurable in this store
    self_stage: str | None  # None: no complete self-assessment in the last year
    self_assessment: SelfAssessment
    measured: bool
    facts: list[EvidenceFact]
    description: str  # what the stage looks like
    next_steps: list[str]
    gap: str | None  # where the team's view and the data differ


@dataclass(frozen=True)
class MaturityAssessment:
    as_of: date
    overall_stage: str
    capabilities: list[CapabilityAssessment]
    questionnaire: str
    respondents: int  # complete self-assessments used


@dataclass(frozen=True)
class _Evidence:
    stage: str | None
    facts: list[EvidenceFact]
    steps: list[str] = field(default_factory=list)  # specific next steps from the data


def maturity_assessment(session: Session, *, as_of: date | None = None) -> MaturityAssessment:
    """Each capability's stage from the self-assessment and the evidence, with next steps.

    ``as_of`` defaults to the day of the latest interaction in the store (today when empty).
    """
    as_of = as_of or _latest_day(session)
    answers = _self_assessments(session, as_of)
    evidence = {
        "journeys": _journey_evidence(session),
        "closed_loop": _closed_loop_evidence(session, as_of),
        "governance": _governance_evidence(session),
        "insight": _insight_evidence(session, as_of),
        "prediction": _prediction_evidence(session, as_of),
    }
    results = []
    for capability in CAPABILITIES:
        found = evidence[capability.code]
        own = answers.get(capability.code, SelfAssessment(0, None, None))
        known = [stage for stage in (found.stage, own.stage) if stage is not None]
        stage = min(known, key=STAGES.index) if known else "crawl"
        gap = None
        if found.stage and own.stage and found.stage != own.stage:
            higher = "higher" if STAGES.index(own.stage) > STAGES.index(found.stage) else "lower"
            gap = f"The CX leads rate this {own.stage}, {higher} than the evidence ({found.stage})."
        position = STAGES.index(stage)
        results.append(
            CapabilityAssessment(
                code=capability.code,
                name=capability.name,
                stage=stage,
                evidence_stage=found.stage,
                self_stage=own.stage,
                self_assessment=own,
                measured=found.stage is not None,
                facts=found.facts,
                description=capability.stages[position],
                next_steps=[*found.steps, capability.next_steps[position]],
                gap=gap,
            )
        )
    positions = sorted(STAGES.index(result.stage) for result in results)
    overall = STAGES[positions[(len(positions) - 1) // 2]]
    respondents = max((a.respondents for a in answers.values()), default=0)
    return MaturityAssessment(as_of, overall, results, QUESTIONNAIRE_CODE, respondents)


def _latest_day(session: Session) -> date:
    latest = session.scalar(select(func.max(Interaction.occurred_at)))
    return latest.date() if latest else datetime.now(UTC).date()


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time())


# --- self-assessment --------------------------------------------------------------------


def questionnaire_definition() -> dict[str, Any]:
    """The self-assessment as a survey definition (``cpxm survey`` can export and edit it)."""
    questions: list[dict[str, Any]] = [
        {
            "code": capability.code,
            "type": "rating",
            "prompt": capability.question,
            "help": " ".join(
                f"{number}, {stage.capitalize()}: {text}"
                for number, (stage, text) in enumerate(
                    zip(STAGES, capability.stages, strict=True), start=1
                )
            ),
            "min": 1,
            "max": 3,
            "min_label": "Crawl",
            "max_label": "Run",
            "required": True,
        }
        for capability in CAPABILITIES
    ]
    questions.append({"code": "holding_back", "type": "text", "prompt": "What holds us back most?"})
    return {
        "code": QUESTIONNAIRE_CODE,
        "name": "CX maturity self-assessment",
        "kind": QUESTIONNAIRE_KIND,
        "status": "active",
        "introduction": (
            "Where does our customer-experience programme stand? For each capability, choose "
            "the stage that describes us today: 1 crawl, 2 walk, 3 run."
        ),
        "audience": {"stakeholder_types": ["employee"]},
        "pages": [{"title": "Maturity", "questions": questions}],
    }


def install_questionnaire(session: Session) -> Survey:
    """Create the questionnaire, or publish its next version if this release changed it."""
    return save_definition(session, document=questionnaire_definition()).survey


@dataclass(frozen=True)
class AssessmentWave:
    plan: SendPlan
    # CX leads who cannot be reached: no active employee record with their email address.
    without_record: list[str]


def plan_assessment_wave(
    session: Session, *, wave: str, now: datetime, channel: str = "email"
) -> AssessmentWave:
    """Who of the CX leads (active users with the ``cx_lead`` role) the wave would invite.

    A CX lead is reached through their employee record (matched by email address), so the
    same consent and contact-fatigue rules apply as to every other invitation.
    """
    survey = install_questionnaire(session)
    leads = {
        email.lower()
        for email in session.scalars(
            select(User.email).where(User.role == "cx_lead", User.is_active.is_(True))
        )
    }
    employees = (
        list(
            session.scalars(
                select(Stakeholder)
                .where(
                    Stakeholder.type == "employee",
                    Stakeholder.status == "active",
                    func.lower(Stakeholder.email).in_(sorted(leads)),
                )
                .order_by(Stakeholder.id)
            )
        )
        if leads
        else []
    )
    found = {(employee.email or "").lower() for employee in employees}
    already = set(
        session.scalars(
            select(Invitation.stakeholder_id).where(
                Invitation.survey_id == survey.id, Invitation.wave == wave
            )
        )
    )
    candidates = [employee for employee in employees if employee.id not in already]
    holds = holds_for(session, stakeholders=candidates, channel=channel, now=now)
    plan = SendPlan(survey, wave, channel, already_invited=len(employees) - len(candidates))
    for employee in candidates:
        if holds.get(employee.id):
            plan.held.append((employee, holds[employee.id]))
        else:
            plan.invite.append(employee)
    return AssessmentWave(plan, sorted(leads - found))


def send_assessment_wave(
    session: Session, *, wave: str, now: datetime, channel: str = "email"
) -> AssessmentWave:
    """Create the wave's invitations; the outbox emails them (``cpxm.surveys.outbox``)."""
    planned = plan_assessment_wave(session, wave=wave, now=now, channel=channel)
    create_invitations(session, plan=planned.plan, now=now.replace(tzinfo=None))
    return planned


def _self_assessments(session: Session, as_of: date) -> dict[str, SelfAssessment]:
    since = _end_of(as_of) - timedelta(days=SELF_ASSESSMENT_DAYS)
    rows = session.execute(
        select(Question.code, Answer.value_number, func.count())
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Survey, Survey.id == Response.survey_id)
        .join(Question, Question.id == Answer.question_id)
        .where(
            Survey.code == QUESTIONNAIRE_CODE,
            Response.status == "complete",
            Response.submitted_at >= since,
            Response.submitted_at < _end_of(as_of),
            Question.code.in_(CAPABILITY_CODES),
            Answer.value_number.in_((1.0, 2.0, 3.0)),
        )
        .group_by(Question.code, Answer.value_number)
    ).all()
    values: dict[str, list[float]] = {}
    for code, value, count in rows:
        values.setdefault(code, []).extend([float(value or 0)] * int(count))
    result = {}
    for code, answered in values.items():
        median = float(statistics.median(answered))
        stage = STAGES[int(median) - 1]  # a median between two stages counts as the lower
        counts = {stage_name: answered.count(float(i)) for i, stage_name in enumerate(STAGES, 1)}
        result[code] = SelfAssessment(len(answered), median, stage, counts)
    return result


# --- evidence ---------------------------------------------------------------------------


def _journey_evidence(session: Session) -> _Evidence:
    people = dict(
        session.execute(
            select(Stakeholder.type, func.count())
            .where(Stakeholder.status == "active", Stakeholder.type != "employee")
            .group_by(Stakeholder.type)
        ).all()
    )
    journeys = session.execute(
        select(
            Journey.stakeholder_type,
            func.count(JourneyStage.id),
            func.sum(case((JourneyStage.is_moment_of_truth, 1), else_=0)),
        )
        .outerjoin(JourneyStage, JourneyStage.journey_id == Journey.id)
        .group_by(Journey.stakeholder_type)
    ).all()
    mapped = {row[0] for row in journeys if row[1]}
    with_moments = {row[0] for row in journeys if row[1] and (row[2] or 0) > 0}
    total = sum(people.values())
    if not total:
        return _Evidence(None, [EvidenceFact("Stakeholders", "none yet")])
    covered = sum(count for kind, count in people.items() if kind in mapped)
    share = covered / total
    unmapped = sorted((kind for kind in people if kind not in mapped), key=lambda k: -people[k])
    facts = [
        EvidenceFact(
            "Stakeholder types with a journey map", f"{len(mapped & set(people))} of {len(people)}"
        ),
        EvidenceFact("Stakeholders covered by a journey map", f"{100 * share:.0f}%"),
        EvidenceFact(
            "Journeys with moments of truth marked", f"{len(with_moments)} of {len(mapped)}"
        ),
    ]
    if share >= JOURNEY_RUN_SHARE and mapped == with_moments:
        stage = "run"
    elif share >= JOURNEY_WALK_SHARE:
        stage = "walk"
    else:
        stage = "crawl"
    steps = []
    if unmapped:
        named = ", ".join(f"{kind} ({people[kind]:,})" for kind in unmapped[:5])
        steps.append(f"Map the journeys of the largest unmapped types: {named}.")
    if mapped - with_moments:
        steps.append(
            "Mark the moments of truth of the journeys for: "
            + ", ".join(sorted(mapped - with_moments))
            + "."
        )
    return _Evidence(stage, facts, steps)


def _closed_loop_evidence(session: Session, as_of: date) -> _Evidence:
    end = _end_of(as_of)
    start = end - timedelta(days=SLA_WINDOW_DAYS)
    due = and_(Case.due_at.is_not(None), Case.due_at >= start, Case.due_at < end)
    in_time = and_(Case.closed_at.is_not(None), Case.closed_at <= Case.due_at)
    row = session.execute(
        select(
            func.count(),
            func.sum(case((in_time, 1), else_=0)),
            func.sum(case((Case.recovery_sent_at.is_not(None), 1), else_=0)),
            func.sum(case((Case.closed_at.is_not(None), 1), else_=0)),
        ).where(due)
    ).one()
    cases_due, within, recovery, closed = (int(value or 0) for value in row)
    if not cases_due:
        return _Evidence(
            None, [EvidenceFact(f"Cases due in the {SLA_WINDOW_DAYS} days to {as_of}", "none")]
        )
    share = within / cases_due
    facts = [
        EvidenceFact(f"Cases due in the {SLA_WINDOW_DAYS} days to {as_of}", f"{cases_due:,}"),
        EvidenceFact("Closed within their SLA", f"{within:,} ({100 * share:.0f}%)"),
        EvidenceFact("Closed cases whose recovery was checked", f"{recovery:,} of {closed:,}"),
    ]
    if share >= SLA_RUN_SHARE and recovery:
        stage = "run"
    elif share >= SLA_WALK_SHARE:
        stage = "walk"
    else:
        stage = "crawl"
    steps = []
    late = cases_due - within
    if late:
        steps.append(f"{late:,} case(s) missed their SLA in the window: review them by team.")
    return _Evidence(stage, facts, steps)


def _governance_evidence(session: Session) -> _Evidence:
    letters = session.execute(
        select(RaciAssignment.activity, RaciAssignment.letter).distinct()
    ).all()
    assigned: dict[str, set[str]] = {}
    for activity, letter in letters:
        assigned.setdefault(activity, set()).add(letter)
    complete = [a for a in ACTIVITIES if {"R", "A"} <= assigned.get(a, set())]
    missing = [a for a in ACTIVITIES if a not in complete]
    facts = [
        EvidenceFact(
            "Activities with a responsible and an accountable party",
            f"{len(complete)} of {len(ACTIVITIES)}",
        )
    ]
    if not assigned:
        stage = "crawl"
    elif not missing:
        stage = "run"
    else:
        stage = "walk"
    steps = []
    if missing:
        steps.append("Name who is responsible and accountable for: " + ", ".join(missing) + ".")
    return _Evidence(stage, facts, steps)


def _insight_evidence(session: Session, as_of: date) -> _Evidence:
    end = _end_of(as_of)
    outcome = select(Question.survey_id).where(Question.question_type.in_(("nps", "csat", "ces")))
    numeric = (
        select(Question.survey_id)
        .where(Question.question_type.in_(("nps", "csat", "ces", "rating")))
        .group_by(Question.survey_id)
        .having(func.count() >= 2)
    )
    analysable_rows = session.execute(
        select(Survey.code, func.count(Response.id))
        .join(Response, Response.survey_id == Survey.id)
        .where(
            Survey.id.in_(outcome),
            Survey.id.in_(numeric),
            Survey.confidential.is_(False),
            Survey.kind != QUESTIONNAIRE_KIND,
            Response.status == "complete",
            Response.submitted_at >= end - timedelta(days=DRIVER_WINDOW_DAYS),
            Response.submitted_at < end,
        )
        .group_by(Survey.code)
    ).all()
    analysable = sorted(code for code, count in analysable_rows if count >= DRIVER_MIN_RESPONSES)
    linked = (
        session.scalar(
            select(func.count()).where(
                Initiative.status != "dropped",
                or_(Initiative.driver_code.is_not(None), Initiative.theme_code.is_not(None)),
            )
        )
        or 0
    )
    measured = (
        session.scalar(
            select(func.count()).where(
                Initiative.status == "shipped", Initiative.shipped_on.is_not(None)
            )
        )
        or 0
    )
    facts = [
        EvidenceFact(
            f"Surveys with {DRIVER_MIN_RESPONSES}+ answers for driver analysis (last year)",
            str(len(analysable)) + (f": {', '.join(analysable)}" if analysable else ""),
        ),
        EvidenceFact("Initiatives linked to a driver or theme", str(linked)),
        EvidenceFact("Shipped initiatives measured before and after", str(measured)),
    ]
    if not analysable:
        stage = "crawl"
    elif linked and measured:
        stage = "run"
    else:
        stage = "walk"
    return _Evidence(stage, facts)


def _table(name: str) -> Table | None:
    """A table the prediction module adds, when it is installed (read by name: that module
    sits beside this one, and this assessment must work without it)."""
    from cpxm.schema import metadata

    return metadata.tables.get(name)


def _prediction_evidence(session: Session, as_of: date) -> _Evidence:
    scores = _table("prediction_scores")
    if scores is None:
        return _Evidence(
            None,
            [EvidenceFact("Prediction module", "not installed: predictions cannot be measured")],
        )
    end = _end_of(as_of)
    start = end - timedelta(days=SLA_WINDOW_DAYS)
    scored = int(session.scalar(select(func.count()).select_from(scores)) or 0)
    actions = _table("outreach_actions")
    if actions is not None:
        row = session.execute(
            select(
                func.count(),
                func.sum(case((actions.c.status.in_(("accepted", "done")), 1), else_=0)),
                func.sum(case((actions.c.outcome.is_not(None), 1), else_=0)),
            ).where(actions.c.proposed_at >= start, actions.c.proposed_at < end)
        ).one()
    else:  # outreach read from the case kinds it opens
        row = session.execute(
            select(
                func.count(),
                func.count(),
                func.sum(case((Case.closed_at.is_not(None), 1), else_=0)),
            ).where(
                Case.case_type.in_(OUTREACH_CASE_TYPES),
                Case.opened_at >= start,
                Case.opened_at < end,
            )
        ).one()
    proposed, acted, outcomes = (int(value or 0) for value in row)
    facts = [
        EvidenceFact("Risk scores stored", f"{scored:,}"),
        EvidenceFact(
            f"Outreach proposed in the {SLA_WINDOW_DAYS} days to {as_of}",
            f"{proposed:,}, {acted:,} acted on, {outcomes:,} with an outcome recorded",
        ),
    ]
    if not scored:
        stage = "crawl"
    elif proposed and acted * 2 >= proposed and outcomes:
        stage = "run"
    else:
        stage = "walk"
    steps = []
    if scored and proposed > acted:
        steps.append(f"{proposed - acted:,} proposed outreach action(s) wait for a decision.")
    return _Evidence(stage, facts, steps)


def minimum_cell(session: Session) -> int:
    """The workspace's minimum cell size, for pages that show the self-assessment's counts."""
    return cells.min_cell_size(session)
