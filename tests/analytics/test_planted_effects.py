"""The analytics recover the effects the demo generator planted, within stated tolerances.

Tolerances allow for the demo's rounding and clipping of latent scores to the answer scale
(which shrinks effects a little) and for sampling noise at scale 0.3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from cpxm.analytics.coordination import CoordinationQuery, coordination_report
from cpxm.analytics.disengagement import DisengagementQuery, silent_disengagement
from cpxm.analytics.drivers import DriverQuery, key_drivers
from cpxm.analytics.journeys import JourneyQuery, peak_end
from cpxm.analytics.metrics import MetricQuery, metric_report
from cpxm.analytics.speed import (
    LateAnswerQuery,
    TimeToContactQuery,
    late_answers,
    time_to_contact,
)


def test_ping_pong_costs_about_the_planted_nps_points(
    demo_session: Session, manifest: dict[str, Any]
) -> None:
    planted = manifest["effects"]["ping_pong"]

    report = coordination_report(
        demo_session,
        CoordinationQuery(
            min_departments=planted["min_departments"],
            window_days=planted["window_days"],
            outcome_survey=planted["survey"],
        ),
    )

    effect = report.effect
    assert effect.mean_difference is not None and effect.ci_high is not None
    # Planted -2.0 on the latent 0-10 score; clipping at 0 and 10 shrinks it slightly.
    assert abs(effect.mean_difference - planted["nps_effect"]) < 0.75
    assert effect.ci_high < 0  # and it is clearly there
    assert report.episodes > 0 and report.stakeholders_with_episodes > 0


def test_relative_weights_rank_the_planted_nps_drivers(
    demo_session: Session, manifest: dict[str, Any]
) -> None:
    planted = manifest["effects"]["nps_drivers"]

    report = key_drivers(
        demo_session,
        DriverQuery(planted["survey"], include_themes=False, include_touchpoints=False, min_n=100),
    )

    found = [driver.code for driver in report.drivers]
    assert set(found) == set(planted["ranking"])
    assert found[:2] == planted["ranking"][:2]
    true_rank = np.array([planted["ranking"].index(code) for code in found])
    spearman = 1 - 6 * float(((true_rank - np.arange(len(found))) ** 2).sum()) / (
        len(found) * (len(found) ** 2 - 1)
    )
    assert spearman >= 0.75
    for driver in report.drivers:  # the independent Shapley decomposition agrees
        assert driver.shapley_percent is not None
        assert abs(driver.shapley_percent - driver.importance_percent) < 1.5


def test_peak_end_weighs_the_last_touch_as_planted(
    demo_session: Session, manifest: dict[str, Any]
) -> None:
    planted = manifest["effects"]["peak_end"]

    result = peak_end(
        demo_session, JourneyQuery(), survey=manifest["effects"]["nps_drivers"]["survey"]
    )

    assert result.last_touch_weight is not None and result.prior_touches_weight is not None
    assert abs(result.last_touch_weight - planted["last_touch_weight"]) < 0.4
    assert abs(result.prior_touches_weight - planted["prior_touch_weight"]) < 0.5
    assert result.last_touch_weight > result.prior_touches_weight


def test_metrics_on_the_demo_are_consistent_across_cuts(demo_session: Session) -> None:
    overall = metric_report(demo_session, MetricQuery("nps")).overall
    by_type = metric_report(demo_session, MetricQuery("nps", segment="stakeholder_type", min_n=1))
    by_quarter = metric_report(demo_session, MetricQuery("nps", grain="quarter", min_n=1))

    assert overall.n > 500
    assert sum(cell.n for cell in by_type.segments) == overall.n
    assert sum(cell.n for cell in by_quarter.trend) == overall.n
    assert overall.response_rate is not None and 10 < overall.response_rate < 90


def test_slower_onboarding_costs_psp_csat_as_planted(
    demo_session: Session, manifest: dict[str, Any]
) -> None:
    planted = manifest["effects"]["onboarding_speed_psp_csat"]

    result = time_to_contact(
        demo_session,
        TimeToContactQuery(
            start_type="psp_enrolment",
            end_type="psp_onboarding_call",
            survey=planted["survey"],
            question_type="csat",
        ),
    )

    assert result.per_day is not None
    # Planted -0.08 CSAT points per day of waiting; rounding to whole points adds noise only.
    assert abs(result.per_day.slope - planted["csat_slope_per_day"]) < 0.03
    assert result.per_day.ci_high < 0
    waited = [(label, mean) for label, n, mean in result.by_wait if n and n >= 10 and mean]
    assert waited[0][1] > waited[-1][1]  # the quickest onboarded are the most satisfied
    assert result.mean_days is not None and 3 < result.mean_days < 12


def test_late_medical_answers_precede_the_planted_drop_in_contact(
    demo_session: Session, manifest: dict[str, Any]
) -> None:
    planted = manifest["effects"]["late_medical_inquiry_disengagement"]

    result = late_answers(
        demo_session,
        LateAnswerQuery(
            request_type="medical_inquiry",
            answer_type="medical_inquiry_response",
            late_after_days=planted["late_after_days"],
            window_days=planted["window_days"],
        ),
    )

    assert result.rate_ratio is not None and result.ci_high is not None
    # Planted: 0.45 x the interaction rate for 90 days after a late answer. Inquiries and their
    # answers are not thinned, which lifts the measured ratio a little.
    assert abs(result.rate_ratio - planted["rate_multiplier"]) < 0.12
    assert result.ci_high < 0.7
    assert result.late_percent is not None and 15 < result.late_percent < 40
    assert result.late.mean_delay_days is not None
    assert result.late.mean_delay_days > planted["late_after_days"]


def test_silent_detractors_are_found_among_hcps(
    demo_session: Session, manifest: dict[str, Any]
) -> None:
    planted = manifest["effects"]["silent_detractors"]
    truth = set(planted["stakeholder_ids"])

    result = silent_disengagement(demo_session, DisengagementQuery(stakeholder_type="hcp"))

    found = {row.stakeholder_id for row in result.flagged}
    recall = len(found & truth) / len(truth)
    precision = len(found & truth) / len(found)
    assert len(truth) >= 20
    assert recall >= 0.65  # some stop before they ever had a full baseline of contact
    assert precision >= 0.8
    assert all(row.lowest_nps is None or row.lowest_nps >= 7 for row in result.flagged)
    assert all(row.rate_ratio <= 0.35 for row in result.flagged)
