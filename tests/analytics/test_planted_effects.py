"""The analytics recover the effects the demo generator planted, within stated tolerances.

Tolerances allow for the demo's rounding and clipping of latent scores to the answer scale
(which shrinks effects a little) and for sampling noise at scale 0.3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from cpxm.analytics.coordination import CoordinationQuery, coordination_report
from cpxm.analytics.drivers import DriverQuery, key_drivers
from cpxm.analytics.journeys import JourneyQuery, peak_end
from cpxm.analytics.metrics import MetricQuery, metric_report


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
