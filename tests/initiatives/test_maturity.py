"""The maturity assessment: evidence measured in the store, the CX leads' self-assessment, and
the questionnaire sent through the normal survey path."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.auth.service import create_team, create_user
from cpxm.cases.models import Case
from cpxm.governance.service import load_matrix
from cpxm.initiatives import maturity
from cpxm.journeys.models import Journey, JourneyStage
from cpxm.stakeholders.models import Consent
from cpxm.surveys.models import Invitation, Question, Survey
from tests.factories import make_interaction, make_response, make_stakeholder, make_taxonomy

AS_OF = datetime(2025, 6, 30, 12, 0)


def _by_code(assessment: maturity.MaturityAssessment) -> dict[str, maturity.CapabilityAssessment]:
    return {capability.code: capability for capability in assessment.capabilities}


def test_an_empty_store_crawls_and_says_what_it_cannot_measure(session: Session) -> None:
    make_taxonomy(session)
    assessment = maturity.maturity_assessment(session, as_of=AS_OF.date())
    found = _by_code(assessment)
    assert assessment.overall_stage == "crawl"
    assert [c.code for c in assessment.capabilities] == list(maturity.CAPABILITY_CODES)
    assert found["governance"].evidence_stage == "crawl"
    assert found["closed_loop"].evidence_stage is None  # no case came due: not measured
    assert not found["closed_loop"].measured
    assert found["prediction"].evidence_stage in (None, "crawl")
    assert all(c.next_steps for c in assessment.capabilities)


def _journey(session: Session, stakeholder_type: str, moments: bool) -> None:
    journey = Journey(code=f"j_{stakeholder_type}", name="J", stakeholder_type=stakeholder_type)
    session.add(journey)
    session.flush()
    session.add_all(
        JourneyStage(
            journey_id=journey.id, code=f"s{i}", name=f"S{i}", position=i,
            is_moment_of_truth=moments and i == 1,
        )
        for i in range(3)
    )  # fmt: skip
    session.flush()


def _cases(session: Session, *, due: int, in_time: int, recovered: int) -> None:
    for number in range(due):
        due_at = AS_OF - timedelta(days=10 + number)
        closed = due_at - timedelta(hours=1) if number < in_time else None
        session.add(
            Case(
                case_type="detractor", status="closed" if closed else "open", priority="normal",
                title="NPS 3", opened_at=due_at - timedelta(days=2), due_at=due_at,
                closed_at=closed, recovery_sent_at=closed if number < recovered else None,
            )
        )  # fmt: skip
    session.flush()


def _self_assessment(session: Session, answers: list[dict[str, int]]) -> None:
    survey = maturity.install_questionnaire(session)
    questions = {
        q.code: q for q in session.scalars(select(Question).where(Question.survey_id == survey.id))
    }
    for number, given in enumerate(answers):
        lead = make_stakeholder(session, type="employee", email=f"lead{number}@example.org")
        make_response(
            session, survey=survey, stakeholder=lead, started_at=AS_OF - timedelta(days=20),
            answers={questions[code]: value for code, value in given.items()},
        )  # fmt: skip


def test_evidence_and_self_assessment_give_the_lower_stage_and_name_the_gap(
    session: Session,
) -> None:
    make_taxonomy(session)
    for _ in range(8):
        hcp = make_stakeholder(session, type="hcp")
        make_interaction(session, stakeholder=hcp, occurred_at=AS_OF)
    for _ in range(2):
        make_stakeholder(session, type="pharmacy")
    _journey(session, "hcp", moments=True)
    team = create_team(session, name="Service DE", country_code="DE")
    create_user(session, email="lead@example.org", role="cx_lead")
    load_matrix(
        session,
        text="raci:\n  - activity: detractor_followup\n    responsible: team:Service DE\n"
        "    accountable: user:lead@example.org\n",
    )
    assert team.id
    _cases(session, due=10, in_time=9, recovered=5)
    _self_assessment(
        session,
        [
            {"journeys": 3, "closed_loop": 3, "governance": 3, "insight": 1, "prediction": 1},
            {"journeys": 3, "closed_loop": 2, "governance": 3, "insight": 1, "prediction": 1},
            {"journeys": 2, "closed_loop": 3, "governance": 3, "insight": 2, "prediction": 1},
        ],
    )
    assessment = maturity.maturity_assessment(session, as_of=AS_OF.date())
    found = _by_code(assessment)
    assert assessment.respondents == 3

    journeys = found["journeys"]
    # 8 of 10 stakeholders are HCPs, whose journey has a moment of truth: 80% covered.
    assert journeys.evidence_stage == "run"
    assert journeys.self_stage == "run"
    assert journeys.stage == "run"
    assert journeys.self_assessment.counts == {"crawl": 0, "walk": 1, "run": 2}
    assert any("pharmacy (2)" in step for step in journeys.next_steps)

    closed_loop = found["closed_loop"]
    assert closed_loop.evidence_stage == "run"  # 9 of 10 within the SLA, recovery checked
    assert "9 (90%)" in [fact.value for fact in closed_loop.facts]

    governance = found["governance"]
    assert governance.evidence_stage == "walk"  # one activity of six has R and A
    assert governance.self_stage == "run"
    assert governance.stage == "walk"
    assert governance.gap is not None and "higher than the evidence" in governance.gap
    assert any("complaint" in step for step in governance.next_steps)

    assert found["insight"].evidence_stage == "crawl"  # no survey has 50 answers
    assert found["insight"].stage == "crawl"
    # run, run, walk, crawl, crawl: the lower median is walk
    assert assessment.overall_stage == "walk"


def test_the_sla_share_decides_the_closed_loop_stage(session: Session) -> None:
    make_taxonomy(session)
    _cases(session, due=10, in_time=5, recovered=0)
    found = _by_code(maturity.maturity_assessment(session, as_of=AS_OF.date()))
    assert found["closed_loop"].evidence_stage == "crawl"
    assert any("5 case(s) missed their SLA" in step for step in found["closed_loop"].next_steps)


def test_the_questionnaire_goes_to_cx_leads_through_the_survey_gate(session: Session) -> None:
    make_taxonomy(session)
    create_user(session, email="Reached@Example.org", role="cx_lead")
    create_user(session, email="noconsent@example.org", role="cx_lead")
    create_user(session, email="norecord@example.org", role="cx_lead")
    create_user(session, email="analyst@example.org", role="analyst")
    reached = make_stakeholder(session, type="employee", email="reached@example.org")
    make_stakeholder(session, type="employee", email="noconsent@example.org")
    make_stakeholder(session, type="employee", email="analyst@example.org")
    session.add(
        Consent(
            stakeholder_id=reached.id, purpose="survey", channel_code=None, status="granted",
            recorded_at=AS_OF - timedelta(days=400), source="test",
        )
    )  # fmt: skip
    session.flush()
    wave = maturity.send_assessment_wave(session, wave="2025-Q2", now=AS_OF)
    assert [s.id for s in wave.plan.invite] == [reached.id]
    assert [s.email for s, _holds in wave.plan.held] == ["noconsent@example.org"]
    assert wave.without_record == ["norecord@example.org"]
    survey = session.scalars(select(Survey).where(Survey.code == "cx_maturity")).one()
    assert survey.kind == "maturity_assessment"
    invitations = session.scalars(select(Invitation).where(Invitation.survey_id == survey.id)).all()
    assert [(i.stakeholder_id, i.wave, i.status) for i in invitations] == [
        (reached.id, "2025-Q2", "pending")
    ]
    # Sending the same wave again invites no one twice.
    again = maturity.send_assessment_wave(session, wave="2025-Q2", now=AS_OF)
    assert again.plan.invite == [] and again.plan.already_invited == 1


def test_predictions_acted_on_are_read_from_the_prediction_tables(session: Session) -> None:
    from cpxm.predict.models import OutreachAction, PredictionModel, PredictionScore

    make_taxonomy(session)

    def stage() -> str | None:
        found = _by_code(maturity.maturity_assessment(session, as_of=AS_OF.date()))
        return found["prediction"].evidence_stage

    assert stage() == "crawl"  # installed, nothing scored yet
    when = AS_OF - timedelta(days=5)
    model = PredictionModel(
        version=1, created_at=when, trained_through=when, test_cutoff=when, examples=10,
        parameters={}, metrics={}, seconds=0.1,
    )  # fmt: skip
    session.add(model)
    session.flush()
    scores = []
    for rank in range(1, 11):
        person = make_stakeholder(session)
        score = PredictionScore(
            model_id=model.id, stakeholder_id=person.id, as_of=when, scored_at=when, risk=0.3,
            rank=rank, reasons={"reasons": []},
        )  # fmt: skip
        session.add(score)
        scores.append(score)
    session.flush()

    def propose(score: PredictionScore, status: str, outcome: str | None) -> None:
        action = OutreachAction(
            score_id=score.id, stakeholder_id=score.stakeholder_id, topic="oncology",
            not_before=when, why="late answers", status=status, outcome=outcome,
            proposed_at=when,
        )  # fmt: skip
        session.add(action)
        session.flush()

    for score in scores[:3]:
        propose(score, "proposed", None)
    assert stage() == "walk"  # scored, but the proposals wait
    for score in scores[3:6]:
        propose(score, "done", "reached_improved")
    assert stage() == "run"  # half acted on, outcomes recorded


def test_without_the_prediction_module_it_is_not_measured(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maturity, "_table", lambda name: None)
    make_taxonomy(session)
    found = _by_code(maturity.maturity_assessment(session, as_of=AS_OF.date()))
    assert found["prediction"].evidence_stage is None
    assert "not installed" in found["prediction"].facts[0].value
