"""Team action plans on the EX-CX page in real Chromium: a team lead signs in, records an action
against a low enabler with the page's form, closes it, and another team's lead can neither see
a form for it nor change it by posting the form themselves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.analytics.models import TeamAction
from cpxm.auth.service import create_user
from tests.factories import make_taxonomy
from tests.surveys.pulse import make_pulse

PASSWORD = "correct horse battery staple 42"
SIZES = {"Team Alpha": 3, "Team Bravo": 6, "Team Charlie": 7, "Team Delta": 8}


def _seed(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        make_taxonomy(session)
        pulse = make_pulse(session, SIZES)
        delta, charlie = pulse.teams["Team Delta"].id, pulse.teams["Team Charlie"].id
        create_user(session, email="delta.lead@pharma.example", role="commercial",
                    password=PASSWORD, display_name="Dana Delta", team_id=delta)  # fmt: skip
        create_user(session, email="charlie.lead@pharma.example", role="medical",
                    password=PASSWORD, display_name="Chris Charlie", team_id=charlie)  # fmt: skip
        session.commit()
        return {"delta": delta, "charlie": charlie}


def _sign_in(browser: Any, live_server: str, email: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(f"{live_server}/analytics/ex")
    page.wait_for_url("**/auth/sign-in**")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/analytics/ex")
    return page


def _actions(engine: Engine) -> list[tuple[int, str, str, str, str]]:
    with Session(engine) as session:
        return [
            (a.team_id, a.enabler, a.action, a.owner, a.status)
            for a in session.scalars(select(TeamAction).order_by(TeamAction.id))
        ]


def test_a_team_lead_records_and_closes_their_teams_action_on_the_page(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    teams = _seed(live_store)
    page = _sign_in(browser, live_server, "delta.lead@pharma.example")
    form = page.get_by_role("form", name="New action")
    # Only the lead's own team is offered.
    assert form.get_by_label("Team").locator("option").all_inner_texts() == ["Team Delta"]
    form.get_by_label("Enabler").select_option("tools")
    form.get_by_label("Action").fill("Tablets with the new CRM for every rep")
    form.get_by_label("Owner").fill("Dana Delta")
    form.get_by_label("Due").fill("2025-09-30")
    form.get_by_role("button", name="Record action").click()
    page.wait_for_url("**/analytics/ex#actions-title")
    row = page.locator("#ex-actions tbody tr").first
    assert "Tablets with the new CRM for every rep" in row.inner_text()
    assert "Team Delta" in row.inner_text()
    assert _actions(live_store) == [
        (teams["delta"], "tools", "Tablets with the new CRM for every rep", "Dana Delta", "open")
    ]

    # Done, handed to someone else: the same row's status and owner, saved.
    action_id = int(row.get_attribute("data-action-id"))
    page.get_by_label(f"Status of action {action_id}").select_option("done")
    page.get_by_label(f"Owner of action {action_id}").fill("Field IT")
    row.get_by_role("button", name="Save").click()
    page.wait_for_url("**/analytics/ex#actions-title")
    assert page.get_by_label(f"Status of action {action_id}").input_value() == "done"
    assert _actions(live_store)[0][3:] == ("Field IT", "done")

    # A bad input comes back on the page with what was typed; nothing is stored.
    form = page.get_by_role("form", name="New action")
    form.get_by_label("Action").fill("   ")
    form.get_by_label("Owner").fill("Dana Delta")
    form.get_by_role("button", name="Record action").click()
    page.wait_for_load_state()
    assert "The action plan was not saved" in page.get_by_role("alert").inner_text()
    assert len(_actions(live_store)) == 1

    # Another team's lead sees the action but no form for it, and is refused when posting.
    other = _sign_in(browser, live_server, "charlie.lead@pharma.example")
    other_row = other.locator(f"#ex-actions tr[data-action-id='{action_id}']")
    assert "Field IT" in other_row.inner_text()
    assert other_row.get_by_role("button", name="Save").count() == 0
    options = other.get_by_role("form", name="New action").get_by_label("Team").locator("option")
    assert options.all_inner_texts() == ["Team Charlie"]
    csrf = other.locator("#new-action input[name=csrf_token]").input_value()
    status = other.evaluate(
        """async ([id, csrf]) => (await fetch(`/analytics/ex/actions/${id}`, {method: "POST",
             body: new URLSearchParams({csrf_token: csrf, status: "open", owner: "Chris",
             due_date: "2026-01-31"})})).status""",
        [action_id, csrf],
    )
    assert status == 403
    assert _actions(live_store)[0][3:] == ("Field IT", "done")
