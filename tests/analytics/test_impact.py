"""Impact of experience on an imported KPI, with a planted slope."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from sqlalchemy.orm import Session

from cpxm.analytics.facts import Slice
from cpxm.analytics.impact import ImpactQuery, impact_report
from cpxm.errors import FieldError
from cpxm.outcomes.models import KpiValue
from tests.factories import (
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)


def _plant(session: Session, n: int = 120) -> None:
    """Prescriptions per month = 20 + 3 x NPS answer + noise, in the months after answering;
    a month before the answer carries a misleading value that must be ignored."""
    rng = np.random.default_rng(3)
    make_taxonomy(session)
    survey = make_survey(session)
    nps = make_question(session, survey=survey, question_type="nps")
    for index in range(n):
        person = make_stakeholder(session, country_code="DE" if index % 2 else "FR")
        score = int(rng.integers(0, 11))
        make_response(
            session, survey=survey, stakeholder=person, started_at=datetime(2025, 3, 10),
            answers={nps: score},
        )  # fmt: skip
        values = [(date(2025, 2, 1), 999.0)]
        values += [(date(2025, month, 1), 20 + 3 * score + rng.normal(scale=4)) for month in (4, 5)]
        session.add_all(
            KpiValue(
                kpi="prescriptions",
                stakeholder_id=person.id,
                period_start=start,
                period_end=start.replace(day=28),
                value=value,
                unit="scripts",
                source_system="crm",
            )
            for start, value in values
        )
    session.flush()


def test_the_planted_slope_is_recovered_with_its_interval(session: Session) -> None:
    _plant(session)

    report = impact_report(session, ImpactQuery(kpi="prescriptions", min_n=30))

    assert report.stakeholders == 120
    assert report.slope is not None and report.ci_low is not None and report.ci_high is not None
    assert report.ci_low < 3.0 < report.ci_high
    assert report.slope == pytest.approx(3.0, abs=0.3)
    assert report.p_value is not None and report.p_value < 1e-6
    assert report.unit == "scripts"
    groups = {group.group: group for group in report.groups}
    promoters, detractors = groups["promoters"].mean_kpi, groups["detractors"].mean_kpi
    assert promoters is not None and detractors is not None
    assert promoters - detractors == pytest.approx(3 * (9.5 - 3.0), abs=3.0)


def test_filters_narrow_the_stakeholders_and_unknown_kpis_are_errors(session: Session) -> None:
    _plant(session)

    germany = impact_report(
        session, ImpactQuery(kpi="prescriptions", slice=Slice((("country", "DE"),)), min_n=10)
    )

    assert germany.stakeholders == 60
    with pytest.raises(FieldError):
        impact_report(session, ImpactQuery(kpi="orders"))
    empty = impact_report(session, ImpactQuery(kpi="prescriptions", metric="csat"))
    assert empty.stakeholders == 0 and empty.slope is None
