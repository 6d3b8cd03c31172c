"""The coordination summary gives the figures the facts give, and only while it describes them.

One demo store, two paths: each query's report read from the kept summary and computed from
the facts (the summary's stamp removed), compared whole, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cpxm.analytics.coordination import CoordinationQuery, coordination_report
from cpxm.analytics.coordination_summary import (
    kept_coordination,
    refresh_coordination_summary,
    summary_is_current,
)
from cpxm.analytics.facts import NONE_KEY, Slice, dimension_labels
from cpxm.analytics.models import CoordinationCell, SummaryStamp
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from tests.factories import make_interaction


def _queries(session: Session) -> list[CoordinationQuery]:
    country = session.scalar(
        select(Stakeholder.country_code).where(Stakeholder.country_code.is_not(None)).limit(1)
    )
    assert country is not None
    return [
        CoordinationQuery(),
        CoordinationQuery(grain="week"),
        CoordinationQuery(grain="quarter"),
        CoordinationQuery(slice=Slice(filters=(("stakeholder_type", "hcp"),))),
        CoordinationQuery(slice=Slice(filters=(("country", country),))),
        CoordinationQuery(slice=Slice(filters=(("country", NONE_KEY),))),
        CoordinationQuery(
            slice=Slice(filters=(("stakeholder_type", "patient"), ("country", country)))
        ),
        CoordinationQuery(min_departments=2, window_days=14),  # episodes from the facts
    ]


def _departments(session: Session) -> list[str]:
    return sorted(dimension_labels(session, "department"))


def test_the_summary_gives_the_figures_the_facts_give(demo_session: Session) -> None:
    # The demo built the summary; build it again in this (rolled-back) transaction.
    written = refresh_coordination_summary(demo_session)
    assert written is not None and written > 0
    assert summary_is_current(demo_session)
    queries = _queries(demo_session)
    from_summary = []
    for query in queries:
        assert kept_coordination(demo_session, query, _departments(demo_session)) is not None
        from_summary.append(coordination_report(demo_session, query, include_affected=True))
    demo_session.execute(delete(SummaryStamp))
    for query, kept in zip(queries, from_summary, strict=True):
        assert kept_coordination(demo_session, query, _departments(demo_session)) is None
        assert coordination_report(demo_session, query, include_affected=True) == kept, query
    default = from_summary[0]
    assert default.episodes > 0 and default.stakeholders_contacted > 0
    assert default.effect.exposed_n > 0 and default.effect.unexposed_n > 0
    assert sum(row.contacts or 0 for row in default.by_department) > 0


def test_a_date_range_or_another_filter_is_computed_from_the_facts(
    demo_session: Session,
) -> None:
    refresh_coordination_summary(demo_session)
    departments = _departments(demo_session)
    dated = CoordinationQuery(slice=Slice(date_from=date(2024, 1, 1)))
    specialty = CoordinationQuery(slice=Slice(filters=(("specialty", "oncology"),)))
    assert kept_coordination(demo_session, dated, departments) is None
    assert kept_coordination(demo_session, specialty, departments) is None


def test_a_new_contact_makes_the_summary_stale_and_the_page_counts_it(
    demo_session: Session,
) -> None:
    refresh_coordination_summary(demo_session)
    query = CoordinationQuery()
    before = coordination_report(demo_session, query)
    contacted = max(before.by_department, key=lambda row: row.contacts or 0)
    stakeholder, channel = demo_session.execute(
        select(Stakeholder, Interaction.channel_code)
        .join(Interaction, Interaction.stakeholder_id == Stakeholder.id)
        .where(Interaction.department_code == contacted.key, Interaction.direction == "outbound")
        .limit(1)
    ).one()
    make_interaction(
        demo_session,
        stakeholder=stakeholder,
        occurred_at=datetime(2025, 2, 3, 9, 0),
        department_code=contacted.key,
        channel_code=channel,
    )
    assert not summary_is_current(demo_session)
    assert kept_coordination(demo_session, query, _departments(demo_session)) is None
    after = coordination_report(demo_session, query)
    counted = {row.key: row.contacts for row in after.by_department}[contacted.key]
    assert counted == (contacted.contacts or 0) + 1
    # The next refresh describes the store again.
    refresh_coordination_summary(demo_session)
    assert summary_is_current(demo_session)
    assert coordination_report(demo_session, query) == after


@pytest.mark.parametrize("grain", ["week", "month", "quarter"])
def test_the_summary_holds_thousands_of_rows_not_a_row_per_contact(
    demo_session: Session, grain: str
) -> None:
    refresh_coordination_summary(demo_session)
    cells = demo_session.scalars(
        select(CoordinationCell.id).where(CoordinationCell.grain == grain)
    ).all()
    contacts = coordination_report(demo_session, CoordinationQuery(grain=grain))
    total = sum(row.contacts or 0 for row in contacts.by_department)
    # A page sums a grain's cells: a fraction of the contacts (a seventh by week at scale 1).
    assert 0 < len(cells) < total / 2
