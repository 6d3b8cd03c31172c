"""The backlog: validation, reach from the data, RICE, Kano figures and the before/after."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from cpxm.errors import FieldError
from cpxm.initiatives import evidence, kano, service
from cpxm.initiatives.models import Initiative
from cpxm.initiatives.schemas import InitiativeChange, InitiativeIn
from cpxm.journeys.models import Journey, JourneyStage
from tests.factories import make_interaction, make_stakeholder, make_taxonomy
from tests.initiatives.helpers import (
    AS_OF,
    answer,
    feedback,
    kano_survey,
    nps_survey,
    questions,
)

TODAY = AS_OF.date()


def _initiative(session: Session, **fields: object) -> Initiative:
    base: dict[str, object] = {
        "code": "faster_answers", "title": "Answer faster", "owner": "Medical information",
        "problem": "HCPs wait too long for answers.",
    }  # fmt: skip
    return service.create_initiative(session, data=InitiativeIn.model_validate({**base, **fields}))


def test_codes_of_evidence_are_checked_together(session: Session) -> None:
    make_taxonomy(session)
    nps_survey(session)
    with pytest.raises(FieldError) as raised:
        _initiative(
            session, therapeutic_area="cardiology", survey="relationship", driver="nps_typo",
            theme="not_a_theme", journey="hcp", status="shipped", impact=1.5,
        )  # fmt: skip
    fields = {error["loc"][-1] for error in raised.value.detail}
    assert fields == {"therapeutic_area", "driver", "theme", "stage", "impact", "shipped_on"}


def test_reach_counts_each_person_the_problem_touched_once(session: Session) -> None:
    make_taxonomy(session)
    survey = nps_survey(session)
    asked = questions(session, survey)
    journey = Journey(code="hcp", name="HCP", stakeholder_type="hcp")
    session.add(journey)
    session.flush()
    stage = JourneyStage(journey_id=journey.id, code="education", name="Education", position=1)
    session.add(stage)
    session.flush()
    onc = [make_stakeholder(session, type="hcp", therapeutic_areas=("oncology",)) for _ in range(6)]
    imm = make_stakeholder(session, type="hcp", therapeutic_areas=("immunology",))
    patient = make_stakeholder(session, type="patient", therapeutic_areas=("oncology",))
    recent = AS_OF - timedelta(days=10)
    # Theme: onc[0], onc[1] and (out of scope) the patient and the immunology HCP.
    for person in (onc[0], onc[1], patient, imm):
        feedback(session, stakeholder=person, at=recent, themes=("responsiveness",))
    # Driver: onc[1] (again) and onc[2] rated speed low; onc[3] rated it high.
    for person, speed in ((onc[1], 1), (onc[2], 2), (onc[3], 5)):
        answer(session, survey=survey, stakeholder=person, at=recent,
               numbers={asked["nps"]: 5, asked["speed"]: speed})  # fmt: skip
    # Stage: onc[4] reached education; onc[5] did too, but before the quarter.
    make_interaction(session, stakeholder=onc[4], occurred_at=recent, journey_stage_id=stage.id)
    make_interaction(
        session, stakeholder=onc[5], occurred_at=AS_OF - timedelta(days=200),
        journey_stage_id=stage.id,
    )  # fmt: skip
    initiative = _initiative(
        session, therapeutic_area="oncology", stakeholder_type="hcp", survey="relationship",
        driver="speed", theme="responsiveness", journey="hcp", stage="education",
        impact=2.0, confidence=50, effort=2,
    )  # fmt: skip
    scored = service.rice(session, initiative, as_of=TODAY)
    assert scored.reach.by_source == {"theme": 2, "driver": 2, "stage": 1}
    assert scored.reach.stakeholders == 4  # onc[0], onc[1], onc[2], onc[4]
    assert scored.impact.source == "manual"
    assert scored.score == pytest.approx(4 * 2.0 * 0.5 / 2)


def test_the_backlog_is_sorted_by_rice_and_filtered(session: Session) -> None:
    make_taxonomy(session)
    people = [
        make_stakeholder(session, type="hcp", therapeutic_areas=areas)
        for areas in (("oncology",), ("oncology",), ())
    ]
    for person in people:
        feedback(session, stakeholder=person, at=AS_OF, themes=("supply_availability",))
    _initiative(session, code="small", theme="supply_availability", impact=0.5)
    _initiative(session, code="big", theme="supply_availability", impact=3.0,
                therapeutic_area="oncology")  # fmt: skip
    _initiative(session, code="patients", stakeholder_type="patient", impact=3.0)
    rows, total = service.backlog(session, as_of=TODAY)
    assert [row.code for row in rows] == ["big", "small", "patients"]
    assert total == 3 and rows[0].reach == 2  # scoped to oncology: two are interested
    assert rows[0].rice == pytest.approx(2 * 3.0 * 0.8 / 1)
    assert rows[1].reach == 3 and rows[1].rice == pytest.approx(3 * 0.5 * 0.8 / 1)
    immunology, _ = service.backlog(session, therapeutic_area="immunology", as_of=TODAY)
    assert [row.code for row in immunology] == ["small", "patients"]
    hcp, _ = service.backlog(session, stakeholder_type="hcp", as_of=TODAY)
    assert [row.code for row in hcp] == ["big", "small"]


def test_kano_categories_coefficients_and_the_evaluation_table(session: Session) -> None:
    make_taxonomy(session)
    survey = kano_survey(session)
    asked = questions(session, survey)
    pairs = [("like", "dislike")] * 6 + [("like", "neutral")] * 3 + [("expect", "dislike")]
    for pair in pairs:
        person = make_stakeholder(session, type="hcp")
        answer(session, survey=survey, stakeholder=person, at=AS_OF, kano={asked["portal"]: pair})
    for _ in range(3):  # under the minimum cell size of 5
        person = make_stakeholder(session, type="hcp")
        answer(session, survey=survey, stakeholder=person, at=AS_OF,
               kano={asked["quiz"]: ("neutral", "neutral")})  # fmt: skip
    initiative = _initiative(session, kano_survey="features", kano_questions=["portal", "quiz"])
    report = kano.kano_report(session, initiative)
    portal, quiz = report.features
    assert portal.n == 10 and portal.category == "O"
    assert portal.counts == {"A": 3, "O": 6, "M": 1, "I": 0, "R": 0, "Q": 0}
    assert portal.better == pytest.approx(0.9) and portal.worse == pytest.approx(-0.7)
    assert portal.table["like"]["dislike"] == 6 and portal.table["expect"]["dislike"] == 1
    assert quiz.n == 3 and quiz.suppressed and quiz.category is None and quiz.better is None
    assert report.evaluation_table["like"]["dislike"] == "O"
    assert report.evaluation_table["expect"]["dislike"] == "M"


def test_kano_ties_favour_must_be_over_attractive(session: Session) -> None:
    make_taxonomy(session)
    survey = kano_survey(session, features=("portal",))
    asked = questions(session, survey)
    for pair in [("like", "neutral")] * 3 + [("neutral", "dislike")] * 3:
        person = make_stakeholder(session, type="hcp")
        answer(session, survey=survey, stakeholder=person, at=AS_OF, kano={asked["portal"]: pair})
    initiative = _initiative(session, kano_survey="features", kano_questions=["portal"])
    assert kano.kano_report(session, initiative).features[0].category == "M"


def test_before_and_after_shipping_with_intervals(session: Session) -> None:
    make_taxonomy(session)
    survey = nps_survey(session)
    asked = questions(session, survey)
    shipped = date(2025, 3, 1)
    for number in range(80):
        person = make_stakeholder(session, type="hcp")
        after = number % 2 == 0
        when = AS_OF.replace(month=3, day=20) if after else AS_OF.replace(month=2, day=10)
        score = (9 if number % 4 == 0 else 8) if after else (3 if number % 4 == 1 else 7)
        answer(session, survey=survey, stakeholder=person, at=when,
               numbers={asked["nps"]: score, asked["speed"]: 4 if after else 2})  # fmt: skip
    initiative = _initiative(
        session, survey="relationship", driver="speed", status="shipped", shipped_on=shipped,
        window_days=60,
    )  # fmt: skip
    result = evidence.before_after(session, initiative, as_of=TODAY)
    assert result is not None and result.complete
    nps, speed = result.comparisons
    assert (nps.before_n, nps.after_n) == (40, 40)
    assert nps.before == pytest.approx(-50.0) and nps.after == pytest.approx(50.0)
    assert nps.difference == pytest.approx(100.0)
    assert nps.difference_ci is not None and nps.difference_ci[0] > 0
    assert speed.difference == pytest.approx(2.0) and speed.p_value is not None
    assert speed.p_value < 0.001
    # Too few answers after: no score, the count still shown.
    late = service.update_initiative(
        session, initiative=initiative, changes=InitiativeChange(shipped_on=date(2025, 6, 1))
    )
    empty = evidence.before_after(session, late, as_of=TODAY)
    assert empty is not None and not empty.complete
    assert empty.comparisons[0].after is None and empty.comparisons[0].difference is None


def test_impact_from_the_kpi_model(session: Session) -> None:
    from cpxm.outcomes.models import KpiValue

    make_taxonomy(session)
    survey = nps_survey(session)
    asked = questions(session, survey)
    answered = AS_OF - timedelta(days=30)
    scores: dict[bool, list[int]] = {True: [], False: []}
    for number in range(64):
        touched = number % 2 == 0
        score = (2 + number % 3) if touched else (8 + number % 3)
        scores[touched].append(score)
        person = make_stakeholder(session, type="hcp")
        if touched:
            feedback(session, stakeholder=person, at=AS_OF - timedelta(days=5),
                     themes=("responsiveness",))  # fmt: skip
        answer(session, survey=survey, stakeholder=person, at=answered,
               numbers={asked["nps"]: score, asked["speed"]: 3})  # fmt: skip
        session.add(
            KpiValue(
                kpi="prescriptions", stakeholder_id=person.id, value=10 + 2 * score,
                period_start=(answered + timedelta(days=10)).date(),
                period_end=(answered + timedelta(days=40)).date(), unit="scripts",
                source_system="test",
            )
        )  # fmt: skip
    session.flush()
    initiative = _initiative(session, theme="responsiveness", impact_source="kpi_model",
                             impact=0.5)  # fmt: skip
    estimate = service.impact_estimate(session, initiative, as_of=TODAY)
    assert estimate.source == "kpi_model" and estimate.note is None
    assert estimate.kpi == "prescriptions" and estimate.slope == pytest.approx(2.0)
    gap = sum(scores[False]) / 32 - sum(scores[True]) / 32
    mean_kpi = sum(10 + 2 * score for score in scores[True] + scores[False]) / 64
    assert estimate.score_gap == pytest.approx(gap) and 5.5 < gap < 6.5
    assert estimate.touched_answers == 32 and estimate.other_answers == 32
    # Closing a 6-point gap at 2 scripts a point is +12 on a mean of 22: far above 10%.
    assert estimate.relative_gain_percent == pytest.approx(100 * 2 * gap / mean_kpi)
    assert estimate.impact == 3.0
    # Without KPI values the team's impact stands, and the page says why.
    session.query(KpiValue).delete()
    fallback = service.impact_estimate(session, initiative, as_of=TODAY)
    assert (fallback.source, fallback.impact) == ("manual", 0.5)
    assert fallback.note is not None and "no KPI" in fallback.note
