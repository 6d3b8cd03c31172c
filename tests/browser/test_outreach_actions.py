"""The next-best-action page in real Chromium: a field rep signs in, accepts the action their team
owns (a proactive-outreach case routed to that team by the RACI matrix, with its SLA), records its
outcome, and cannot decide another team's action, neither on the page nor by posting the form;
that team's own lead declines it on the page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.auth.service import create_user
from cpxm.cases.models import Case
from cpxm.governance.models import RaciAssignment
from cpxm.predict.models import OutreachAction, PredictionModel, PredictionScore
from cpxm.predict.outreach import propose_actions
from cpxm.workspace.models import Team
from tests.browser.test_accessibility import AXE, _violations
from tests.factories import make_stakeholder, make_taxonomy

PASSWORD = "correct horse battery staple 42"
AS_OF = datetime(2025, 7, 1)


def _seed(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        make_taxonomy(session)
        field = Team(name="Field force DE", department_code="sales", country_code="DE")
        centre = Team(name="Call centre FR", department_code="patient_services", country_code="FR")
        session.add_all([field, centre])
        session.flush()
        for country, team in (("DE", field), ("FR", centre)):
            session.add(
                RaciAssignment(
                    activity="detractor_followup", letter="R", country_code=country, team_id=team.id
                )
            )
        create_user(session, email="rep@pharma.example", role="commercial", password=PASSWORD,
                    display_name="Rita Rep", team_id=field.id)  # fmt: skip
        create_user(session, email="lead@pharma.example", role="commercial", password=PASSWORD,
                    display_name="Lou Lead", team_id=centre.id)  # fmt: skip
        create_user(session, email="cx@pharma.example", role="cx_lead", password=PASSWORD,
                    display_name="Cleo Cx")  # fmt: skip
        alma = make_stakeholder(session, display_name="Dr Alma Quist", country_code="DE",
                                channel_preferences=("phone", "email"))  # fmt: skip
        bert = make_stakeholder(session, display_name="Dr Bert Nold", country_code="FR")
        model = PredictionModel(
            version=1,
            created_at=AS_OF,
            trained_through=datetime(2025, 1, 1),
            test_cutoff=datetime(2025, 4, 1),
            examples=1000,
            parameters={},
            metrics={},
            seconds=1.0,
        )
        session.add(model)
        session.flush()
        reasons = [
            {
                "feature": "ping_pong_90",
                "text": "2 weeks with contacts from 3 or more departments (ping-pong)",
                "contribution": 0.5,
            }
        ]
        for rank, (person, risk) in enumerate(((alma, 0.62), (bert, 0.48)), 1):
            session.add(
                PredictionScore(
                    model_id=model.id,
                    stakeholder_id=person.id,
                    as_of=AS_OF,
                    scored_at=AS_OF,
                    risk=risk,
                    rank=rank,
                    reasons={"reasons": reasons},
                )
            )
        session.flush()
        assert propose_actions(session, share=1.0, now=AS_OF).proposed == 2
        session.commit()
        actions = {a.stakeholder_id: a.id for a in session.scalars(select(OutreachAction))}
        return {
            "alma": actions[alma.id],
            "bert": actions[bert.id],
            "field": field.id,
            "centre": centre.id,
        }


def _sign_in(browser: Any, live_server: str, email: str, **context: Any) -> Any:
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(120_000)  # a shared, busy machine: the first request warms up
    page.goto(f"{live_server}/predictions/actions")
    page.wait_for_url("**/auth/sign-in**")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/predictions/actions")
    return page


def _action(engine: Engine, action_id: int) -> tuple[str, str | None, int | None]:
    with Session(engine) as session:
        action = session.get(OutreachAction, action_id)
        assert action is not None
        return action.status, action.outcome, action.case_id


def test_a_rep_accepts_their_teams_action_and_records_its_outcome(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    ids = _seed(live_store)
    page = _sign_in(browser, live_server, "rep@pharma.example")
    table = page.locator("#table-actions")
    alma = table.locator(f"tr[data-action-id='{ids['alma']}']")
    bert = table.locator(f"tr[data-action-id='{ids['bert']}']")
    assert "Field force DE" in alma.inner_text() and "Phone" in alma.inner_text()
    assert "ping-pong" in alma.inner_text()
    # Bert's action belongs to the call centre: listed, with no form for this rep.
    assert "Call centre FR" in bert.inner_text()
    assert bert.get_by_role("button").count() == 0
    assert page.get_by_role("form", name="Propose actions").count() == 0  # CX managers only

    page.get_by_role("button", name=f"Accept action {ids['alma']}").click()
    page.wait_for_url("**/predictions/actions?**message=**")
    assert "accepted" in page.locator("#action-message").inner_text()
    status, _, case_id = _action(live_store, ids["alma"])
    assert status == "accepted" and case_id is not None
    with Session(live_store) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.case_type == "proactive_outreach"
        assert case.team_id == ids["field"]  # routed by the RACI matrix
        assert case.sla_business_hours == 40 and case.due_at is not None

    # The accepted one, with its case, waits for its outcome.
    page.get_by_label("Status").select_option("accepted")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**status=accepted**")
    row = page.locator(f"tr[data-action-id='{ids['alma']}']")
    assert f"case {case_id}" in row.inner_text()
    row.get_by_label(f"Outcome of action {ids['alma']}").select_option("reached_improved")
    row.get_by_role("button", name="Record").click()
    page.wait_for_url("**message=**")
    assert _action(live_store, ids["alma"]) == ("done", "reached_improved", case_id)

    # Posting the other team's form by hand is refused and changes nothing.
    refused = page.evaluate(
        """async ([id]) => {
            const token = document.querySelector("input[name=csrf_token]").value;
            const body = new URLSearchParams({csrf_token: token});
            const answer = await fetch(`/predictions/actions/${id}/accept`, {method: "POST", body});
            return answer.status;
        }""",
        [ids["bert"]],
    )
    assert refused == 403
    assert _action(live_store, ids["bert"]) == ("proposed", None, None)
    page.context.close()

    # The call centre's lead declines their own one.
    lead = _sign_in(browser, live_server, "lead@pharma.example")
    lead.get_by_role("button", name=f"Decline action {ids['bert']}").click()
    lead.wait_for_url("**message=**")
    assert "declined" in lead.locator("#action-message").inner_text()
    assert _action(live_store, ids["bert"]) == ("dismissed", None, None)
    lead.context.close()

    # A CX lead proposes again: Alma's action is done, Bert's declined, so each gets a new one.
    cx = _sign_in(browser, live_server, "cx@pharma.example")
    propose = cx.get_by_role("form", name="Propose actions")
    propose.get_by_label("Top share by risk (%)").fill("100")
    propose.get_by_role("button", name="Propose actions").click()
    cx.wait_for_url("**message=**")
    message = cx.locator("#action-message").inner_text()
    assert "Proposed 2 action(s) for the top 100% by risk" in message
    with Session(live_store) as session:
        statuses = sorted(a.status for a in session.scalars(select(OutreachAction)))
    assert statuses == ["dismissed", "done", "proposed", "proposed"]
    cx.context.close()


def test_the_actions_page_with_its_forms_passes_axe(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed ({AXE} is missing): run `npm ci` in tests/")
    _seed(live_store)
    # CSP allows no inline script; axe is injected as one, so this context bypasses CSP.
    page = _sign_in(browser, live_server, "cx@pharma.example", bypass_csp=True)
    assert page.get_by_role("button", name="Accept").count() == 2  # rows with their forms
    found = _violations(page, AXE.read_text())
    assert not found, found
    page.context.close()
