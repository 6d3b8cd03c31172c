"""The EX-CX figures: the pulse over teams (small and complementary cells hidden), the
customers each team served, team action plans, and the demo's planted tools effect recovered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.access.cells import set_min_cell_size
from cpxm.analytics.ex import ExQuery, association, ex_report
from cpxm.analytics.ex_actions import action_views, record_action
from cpxm.analytics.models import TeamAction
from cpxm.cases.models import Case
from cpxm.errors import FieldError
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Response, Survey
from cpxm.workspace.models import User
from tests.factories import make_taxonomy
from tests.surveys.pulse import answer_wave, make_pulse

SIZES = {"Team Alpha": 3, "Team Bravo": 6, "Team Charlie": 7, "Team Delta": 8}


def _row(report: Any, team: str) -> Any:
    return next(row for row in report.teams if row.team == team)


def test_small_teams_and_their_complements_are_hidden_in_every_wave(session: Session) -> None:
    make_taxonomy(session)
    make_pulse(session, SIZES)
    report = ex_report(session, ExQuery())

    assert report.wave == "2025-05" and [w.wave for w in report.waves] == ["2025-02", "2025-05"]
    # Alpha (3) is too small; Bravo (6), the next smallest, is hidden too, or Alpha would be
    # the wave's total minus the others.
    assert _row(report, "Team Alpha").enps.suppressed
    assert _row(report, "Team Bravo").enps.suppressed
    assert _row(report, "Team Alpha").respondents is None
    charlie = _row(report, "Team Charlie")
    assert (charlie.enps.suppressed, charlie.respondents) == (False, 7)
    assert charlie.enps.ci_low <= charlie.enps.value <= charlie.enps.ci_high
    assert charlie.enablers["tools"].n == 7
    for trend in report.trend:
        for cell in trend.enps.values():
            assert cell.suppressed or (cell.n or 0) >= 5
    # Verbatims: only the teams shown, redacted.
    assert set(report.verbatims) == {"Team Charlie", "Team Delta"}
    assert all("<PERSON>" in text for text in report.verbatims["Team Delta"])
    # The customers each team served in the wave: CSAT of the surveys its contacts triggered.
    assert charlie.customer["csat"].n == 7
    assert charlie.contacts == 7 and charlie.customers_served == 1


def test_the_minimum_is_the_admins_not_the_requests(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    make_pulse(session, SIZES)
    session.commit()
    analyst = client_as("analyst")
    shown = analyst.get("/api/v1/analytics/ex", params={"min_n": 1, "min_cell_size": 1}).json()
    alpha = next(row for row in shown["teams"] if row["team"] == "Team Alpha")
    assert alpha["enps"]["suppressed"] and alpha["enps"]["value"] is None
    assert shown["min_cell_size"] == 5

    set_min_cell_size(session, value=3, user_id=None)
    session.commit()
    lowered = ex_report(session, ExQuery())
    assert not _row(lowered, "Team Alpha").enps.suppressed


def test_an_action_plan_shows_whether_its_enabler_moved(session: Session) -> None:
    make_taxonomy(session)
    pulse = make_pulse(session, SIZES, waves=("2025-02",))
    delta = pulse.teams["Team Delta"].id
    action = record_action(
        session,
        team_id=delta,
        enabler="tools",
        action="Tablets for the whole team",
        owner="Team lead Delta",
        due_date=date(2025, 4, 30),
        user_id=None,
    )
    assert action.baseline_wave == "2025-02" and action.baseline_mean is not None
    (before,) = action_views(session, ex_report(session, ExQuery()))
    assert (before.next_wave, before.moved) == (None, None)

    answer_wave(session, pulse, "2025-05", tools_shift=1)
    (after,) = action_views(session, ex_report(session, ExQuery()))
    assert after.next_wave == "2025-05"
    assert after.moved is not None and after.moved > 0
    with pytest.raises(FieldError) as bad:
        record_action(
            session, team_id=delta, enabler="morale", action="", owner="x",
            due_date=date(2025, 4, 30), user_id=None,
        )  # fmt: skip
    assert {error["loc"][-1] for error in bad.value.detail} == {"enabler", "action"}


def _user(session: Session, role: str) -> User:
    """The user ``client_as(role)`` signed in (the newest of that role)."""
    return session.scalars(
        select(User).where(User.role == role).order_by(User.id.desc()).limit(1)
    ).one()


def test_actions_are_recorded_by_team_leads_not_analysts(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    pulse = make_pulse(session, SIZES)
    session.commit()
    delta = pulse.teams["Team Delta"].id
    body = {
        "team_id": delta,
        "enabler": "tools",
        "action": "New CRM on tablets",
        "owner": "Lena",
        "due_date": "2025-09-30",
    }
    assert client_as("analyst").post("/api/v1/analytics/ex/actions", json=body).status_code == 403
    lead = client_as("commercial")
    _user(session, "commercial").team_id = delta
    session.commit()
    created = lead.post("/api/v1/analytics/ex/actions", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["baseline_wave"] == "2025-05"
    listed = client_as("hr_partner").get("/api/v1/analytics/ex/actions").json()
    assert [a["action"] for a in listed["items"]] == ["New CRM on tablets"]
    assert (listed["total"], listed["limit"], listed["offset"]) == (1, 50, 0)
    page = client_as("viewer").get("/analytics/ex")
    assert page.status_code == 200 and "New CRM on tablets" in page.text
    assert "Team Alpha" in page.text and "hidden" in page.text


def test_a_team_lead_writes_only_their_own_teams_plan(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    pulse = make_pulse(session, SIZES)
    session.commit()
    delta, charlie = pulse.teams["Team Delta"].id, pulse.teams["Team Charlie"].id
    delta_lead, charlie_lead, outsider = (client_as(role) for role in ("medical", "commercial",
                                                                       "cx_lead"))  # fmt: skip
    _user(session, "medical").team_id = delta
    _user(session, "commercial").team_id = charlie
    session.commit()
    body = {"team_id": delta, "enabler": "training", "action": "Onboarding buddy",
            "owner": "Delta lead", "due_date": "2025-10-31"}  # fmt: skip
    # Another team's lead, and a lead without a team, may not write Delta's plan.
    for client in (charlie_lead, outsider):
        refused = client.post("/api/v1/analytics/ex/actions", json=body)
        assert refused.status_code == 403 and "belongs to its team" in refused.text
    assert session.scalar(select(func.count()).select_from(TeamAction)) == 0
    created = delta_lead.post("/api/v1/analytics/ex/actions", json=body)
    assert created.status_code == 201, created.text
    action_id = created.json()["id"]

    change = {"status": "done", "owner": "Someone else", "due_date": "2025-12-31"}
    refused = charlie_lead.patch(f"/api/v1/analytics/ex/actions/{action_id}", json=change)
    assert refused.status_code == 403
    session.expire_all()
    stored = session.get(TeamAction, action_id)
    assert stored is not None and (stored.status, stored.owner) == ("open", "Delta lead")

    changed = delta_lead.patch(f"/api/v1/analytics/ex/actions/{action_id}", json=change)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["status"], changed.json()["owner"]) == ("done", "Someone else")
    assert changed.json()["due_date"] == "2025-12-31"
    # The people team keeps every team's plans; a bad status is a clear error, nothing changed.
    bad = client_as("hr_partner").patch(
        f"/api/v1/analytics/ex/actions/{action_id}", json={"status": "closed", "owner": " "}
    )
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"status", "owner"}
    reopened = client_as("hr_partner").patch(
        f"/api/v1/analytics/ex/actions/{action_id}", json={"status": "open"}
    )
    assert reopened.status_code == 200 and reopened.json()["owner"] == "Someone else"
    missing = delta_lead.patch("/api/v1/analytics/ex/actions/999999", json=change)
    assert missing.status_code == 404


def test_an_unknown_wave_is_a_clear_error(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_taxonomy(session)
    make_pulse(session, SIZES)
    session.commit()
    answer = client_as("analyst").get("/api/v1/analytics/ex", params={"wave": "1999-01"})
    assert answer.status_code == 422
    assert "waves: 2025-02, 2025-05" in answer.text


def test_association_interval_resamples_teams() -> None:
    points: list[tuple[int | None, float, float]] = [
        (team, x, 1.0 + 0.5 * x + noise)
        for team, (x, noise) in enumerate(
            [(1.0, 0.1), (2.0, -0.1), (3.0, 0.05), (4.0, 0.0), (2.5, -0.05), (3.5, 0.1)]
        )
    ]
    found = association(points, enabler="tools", outcome="csat")
    assert found.slope == pytest.approx(0.5, abs=0.08)
    assert found.ci_low is not None and found.ci_high is not None
    assert found.ci_low < 0.5 < found.ci_high and found.teams == 6
    assert association(points[:3], enabler="tools", outcome="csat").slope is None


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_recovers_the_planted_tools_effect(
    demo_session: Session, manifest: dict[str, Any]
) -> None:
    planted = manifest["effects"]["team_tools_csat"]["csat_per_tools_point"]
    report = ex_report(demo_session, ExQuery())
    found = {(a.enabler, a.outcome): a for a in report.associations}
    tools = found[("tools", "csat")]
    assert tools.slope is not None and tools.ci_low is not None and tools.ci_high is not None
    assert tools.ci_low <= planted <= tools.ci_high, tools
    assert tools.ci_low > 0
    # The planted enabler is the one that stands out for CSAT.
    others = [found[(code, "csat")] for code in report.enablers if code != "tools"]
    assert all(abs(other.slope or 0) < tools.slope for other in others)


def test_the_demo_pulse_follows_the_confidential_rules(demo_session: Session) -> None:
    pulse = demo_session.scalars(select(Survey).where(Survey.kind == "employee_pulse")).one()
    assert pulse.confidential
    cases_on_pulse = demo_session.scalar(
        select(func.count(Case.id))
        .join(Response, Response.id == Case.response_id)
        .where(Response.survey_id == pulse.id)
    )
    assert cases_on_pulse == 0
    # Employees have teams, and their contacts belong to those teams.
    employees, with_team = demo_session.execute(
        select(func.count(Stakeholder.id), func.count(Stakeholder.team_id)).where(
            Stakeholder.type == "employee", Stakeholder.status == "active"
        )
    ).one()
    assert with_team >= 0.98 * employees
    made, by_team = demo_session.execute(
        select(func.count(Interaction.id), func.count(Stakeholder.team_id)).join(
            Stakeholder, Stakeholder.id == Interaction.employee_id
        )
    ).one()
    assert made > 0 and by_team >= 0.98 * made
