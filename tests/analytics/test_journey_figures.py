"""The journeys report's peak-end model, paths and funnel against the same figures computed in
plain Python from the rows: the guard that lets the report's queries be reshaped for speed."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session

from cpxm.analytics.journeys import JourneyQuery, journey_report, peak_end
from cpxm.analytics.touch_summaries import (
    PEAK_END_PRIOR_DAYS,
    refresh_touch_summaries,
    touch_summaries_fresh,
)
from cpxm.interactions.outcomes import OUTCOME_QUALITY
from cpxm.journeys.models import Journey, JourneyStage
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)

START = datetime(2025, 1, 1, 8)
OUTCOMES = [*OUTCOME_QUALITY, None]


def _touches(rng: random.Random) -> list[tuple[datetime, str | None, int]]:
    """(time, outcome, stage index) of one person's interactions: some share an instant."""
    times = sorted(START + timedelta(hours=rng.randrange(0, 24 * 200)) for _ in range(12))
    times.insert(rng.randrange(len(times)), rng.choice(times))
    return [(at, rng.choice(OUTCOMES), rng.randrange(3)) for at in times]


def test_peak_end_paths_and_funnel_match_a_plain_computation(session: Session) -> None:
    make_taxonomy(session)
    journey = Journey(code="onboarding", name="Onboarding", stakeholder_type="hcp")
    session.add(journey)
    session.flush()
    stages = [
        JourneyStage(journey_id=journey.id, code=code, name=code.title(), position=position)
        for position, code in enumerate(("aware", "trial", "adopted"), start=1)
    ]
    session.add_all(stages)
    session.flush()
    survey = make_survey(session, kind="relationship", code="relationship_nps")
    nps = make_question(session, survey=survey, question_type="nps")
    rng = random.Random(20)
    design: list[tuple[float, float, float]] = []  # (last, prior, score)
    first_arrivals: list[list[datetime | None]] = []
    window = timedelta(days=PEAK_END_PRIOR_DAYS)
    for _ in range(60):
        person = make_stakeholder(session, country_code="DE")
        touches = _touches(rng)
        for at, outcome, stage in touches:
            make_interaction(
                session,
                stakeholder=person,
                occurred_at=at,
                outcome=outcome,
                journey_stage_id=stages[stage].id,
            )
        firsts: list[datetime | None] = [None, None, None]
        for at, _outcome, stage in touches:
            current = firsts[stage]
            firsts[stage] = at if current is None else min(current, at)
        first_arrivals.append(firsts)
        for _answer in range(2):
            # Some answers start at the very instant of a touch (it is not "before").
            started = rng.choice(
                [START + timedelta(hours=rng.randrange(0, 24 * 210)), rng.choice(touches)[0]]
            )
            score = rng.randrange(11)
            make_response(
                session, survey=survey, stakeholder=person, started_at=started,
                answers={nps: score},
            )  # fmt: skip
            earlier = [
                (at, OUTCOME_QUALITY.get(o or "", 0)) for at, o, _s in touches if at < started
            ]
            if not earlier:
                continue
            last_at = max(at for at, _q in earlier)
            last = [q for at, q in earlier if at == last_at]
            recent = [q for at, q in earlier if at >= started - window]
            last_quality = sum(last) / len(last)
            last_in_window = 1 if last_at >= started - window else 0
            others = len(recent) - last_in_window
            prior = (sum(recent) - last_in_window * last_quality) / others if others > 0 else 0.0
            design.append((last_quality, prior, float(score)))
    session.flush()

    result = peak_end(session, JourneyQuery(min_n=10))

    rows = np.array(design)
    assert result.n == len(rows) > 60
    x = np.column_stack([np.ones(len(rows)), rows[:, :2]])
    expected, *_ = np.linalg.lstsq(x, rows[:, 2], rcond=None)
    assert result.last_touch_weight == pytest.approx(expected[1], abs=1e-9)
    assert result.prior_touches_weight == pytest.approx(expected[2], abs=1e-9)
    labels = {-1: "poor", 0: "neutral", 1: "good"}
    groups: dict[str, list[float]] = {}
    for last_quality, _prior, answer_score in design:
        # rounded half away from zero, as ROUND does
        rounded = int(np.sign(last_quality) * np.floor(abs(last_quality) + 0.5))
        groups.setdefault(labels[rounded], []).append(answer_score)
    expected_groups: list[tuple[str, int, Any]] = [
        (label, len(scores), pytest.approx(sum(scores) / len(scores)))
        for label, scores in sorted(groups.items())
    ]
    assert result.by_last_quality == expected_groups
    interval = result.last_touch_ci
    assert interval is not None and interval[0] < expected[1] < interval[1]

    report = journey_report(session, JourneyQuery(journey="onboarding", min_n=5))

    reached = [sum(1 for firsts in first_arrivals if firsts[i]) for i in range(3)]
    assert [stage.reached for stage in report.stages] == reached
    continued = [
        len(
            [
                firsts
                for firsts in first_arrivals
                if firsts[i] and firsts[i + 1] and firsts[i + 1] >= firsts[i]  # type: ignore[operator]
            ]
        )
        for i in range(2)
    ]
    assert [stage.continued for stage in report.stages[:2]] == continued
    walked = Counter(
        (
            " > ".join(s.code for s, at in zip(stages, firsts, strict=True) if at),
            all(a is None or b is None or b >= a for a, b in itertools.pairwise(firsts)),
        )
        for firsts in first_arrivals
    )
    expected_paths = sorted(walked.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))
    assert [(row.path, row.stakeholders) for row in report.paths] == [
        (path + ("" if in_order else " (out of order)"), count)
        for (path, in_order), count in expected_paths[:10]
        if count >= 5
    ]

    # The same figures from the summaries the store keeps (one input, two paths).
    refresh_touch_summaries(session)
    assert touch_summaries_fresh(session)
    assert peak_end(session, JourneyQuery(min_n=10)) == result
    assert journey_report(session, JourneyQuery(journey="onboarding", min_n=5)) == report
