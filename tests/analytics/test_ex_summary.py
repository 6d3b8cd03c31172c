"""The EX-CX page's kept summary gives the figures the facts give, and only while it describes
them: one demo store, each wave's report read with the summary and computed from the facts."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cpxm.analytics.ex import ExQuery, ex_report, wave_starts
from cpxm.analytics.ex_summary import kept_customer_side
from cpxm.analytics.kept import kept_summaries_current, refresh_kept_summaries
from cpxm.analytics.models import ExTeamScores, SummaryStamp
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Survey
from tests.factories import make_interaction


def _pulse(session: Session) -> Survey:
    return session.scalars(select(Survey).where(Survey.kind == "employee_pulse")).one()


def test_every_waves_report_is_the_same_from_the_summary_and_the_facts(
    demo_session: Session,
) -> None:
    kept = refresh_kept_summaries(demo_session)
    assert kept["ex"] is not None and kept["ex"] > 0
    assert kept_summaries_current(demo_session)
    pulse = _pulse(demo_session)
    waves = [label for label, _starts, _invited in wave_starts(demo_session, pulse.id)]
    assert len(waves) >= 2
    queries = [ExQuery(wave=wave) for wave in waves] + [ExQuery(attribution_days=10)]
    side = kept_customer_side(demo_session, pulse.id, 30)
    assert side is not None and side.last_touch and side.after_contact and side.contacts
    assert kept_customer_side(demo_session, pulse.id, 10) is None  # another window: the facts
    from_summary = [ex_report(demo_session, query) for query in queries]
    demo_session.execute(delete(SummaryStamp))
    assert kept_customer_side(demo_session, pulse.id, 30) is None
    for query, report in zip(queries, from_summary, strict=True):
        assert ex_report(demo_session, query) == report, query
    latest = from_summary[len(waves) - 1]
    assert any(row.contacts for row in latest.teams)
    assert any(not row.customer["csat"].suppressed for row in latest.teams)


def test_a_new_contact_by_an_employee_is_counted_at_once(demo_session: Session) -> None:
    refresh_kept_summaries(demo_session)
    pulse = _pulse(demo_session)
    before = ex_report(demo_session, ExQuery())
    assert before.period_start is not None
    team = next(row for row in before.teams if row.team_id is not None and row.contacts)
    employee = demo_session.scalars(
        select(Stakeholder).where(Stakeholder.team_id == team.team_id).limit(1)
    ).one()
    customer_id, channel, department = demo_session.execute(
        select(Interaction.stakeholder_id, Interaction.channel_code, Interaction.department_code)
        .where(Interaction.employee_id == employee.id)
        .limit(1)
    ).one()
    make_interaction(
        demo_session,
        stakeholder=demo_session.get_one(Stakeholder, customer_id),
        occurred_at=before.period_start,
        channel_code=channel,
        department_code=department,
        employee_id=employee.id,
    )
    assert not kept_summaries_current(demo_session)
    assert kept_customer_side(demo_session, pulse.id, 30) is None
    after = ex_report(demo_session, ExQuery())
    counted = {row.team_id: row.contacts for row in after.teams}
    assert counted[team.team_id] == team.contacts + 1
    refresh_kept_summaries(demo_session)
    assert kept_customer_side(demo_session, pulse.id, 30) is not None
    assert ex_report(demo_session, ExQuery()) == after
    assert demo_session.scalar(select(ExTeamScores.id).limit(1)) is not None
