"""A CX lead runs a survey in Chromium: writes it in the editor (checked as typed), opens it,
previews it in German and at phone width, plans and sends a wave, makes an open link that a
respondent answers, and watches the monitor count it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.auth.service import create_user
from cpxm.stakeholders.models import Consent
from cpxm.timeutil import utc_now
from tests.factories import make_stakeholder, make_taxonomy

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PASSWORD = "correct horse battery staple 42"


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        make_taxonomy(session)
        create_user(session, email="lead@pharma.example", role="cx_lead", password=PASSWORD)
        for number in range(5):
            person = make_stakeholder(
                session,
                type="hcp",
                display_name=f"Dr Example {number}",
                email=f"example{number}@clinic.example",
            )
            if number < 3:
                session.add(
                    Consent(
                        stakeholder_id=person.id,
                        purpose="survey",
                        channel_code="email",
                        status="granted",
                        recorded_at=utc_now() - timedelta(days=30),
                        source="crm",
                    )
                )
        session.commit()


def _sign_in(page: Any, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.wait_for_url("**/auth/sign-in**")
    page.get_by_label("Email").fill("lead@pharma.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_cx_lead_builds_previews_sends_and_monitors_a_survey(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    _seed(live_store)
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, live_server, "/surveys")
    nav = page.get_by_role("navigation", name="Main")
    assert "Surveys" in nav.get_by_role("link").all_inner_texts()
    assert "No surveys match." in page.content()

    page.get_by_role("link", name="New survey").click()
    page.wait_for_url("**/surveys/new")
    result = page.locator("#check-result")
    result.get_by_text("Valid: 2 page(s), 10 question(s)").wait_for()
    # A mistake is named, with where it is, while typing; no save is needed to see it.
    editor = page.get_by_label("Definition (YAML)")
    text = editor.input_value()
    editor.fill(text.replace("question: nps, max: 6", "question: nps_later, max: 6"))
    result.get_by_text("page 1, question 2 'nps_reason_low'").wait_for()
    assert "not asked before" in result.inner_text()
    editor.fill(text)
    result.get_by_text("Valid:").wait_for()
    page.get_by_role("button", name="Create survey").click()
    page.wait_for_url(re.compile(r".*/surveys/\d+\?note=.*"))
    survey_url = page.url.split("?")[0]
    assert page.get_by_role("heading", name="Your visit from our team").is_visible()
    assert "created at version 1" in page.content()

    page.get_by_role("button", name="Open for answers").click()
    page.wait_for_url("**note=**")
    assert "The survey is open for answers" in page.content()

    # The preview in German, as a respondent meets it; nothing is stored.
    page.get_by_role("link", name="Preview").click()
    page.locator(".r-preview-banner").get_by_role("link", name="DE").click()
    page.wait_for_url("**lang=de**")
    assert page.get_by_text("Wie wahrscheinlich empfehlen Sie uns").is_visible()
    page.locator("label[for='q_nps_3'], label:has(input[name='q_nps'][value='3'])").first.click()
    page.get_by_role("button", name="Weiter").click()
    assert page.get_by_text("Wie hilfreich waren die Informationen?").is_visible()
    preview_url = page.url

    phone = browser.new_context(**PHONE, storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(f"{survey_url}/preview?lang=en")
    assert small.get_by_text("How likely are you to recommend us").is_visible()
    assert _fits(small), "the preview is wider than a phone"
    phone.close()
    assert "/preview" in preview_url

    page.goto(f"{survey_url}/send?wave=2026-12")
    assert page.locator("#plan-invite").inner_text() == "3"
    assert page.locator("#plan-held").inner_text() == "2"
    assert "no survey consent in force for email" in page.locator("#plan-held-list").inner_text()
    page.get_by_role("button", name="Send to 3 people").click()
    page.wait_for_url(f"{survey_url}?note=**")
    assert "3 invitation(s) made on email" in page.content()
    assert page.locator("#kpi-invited").inner_text() == "3"
    assert page.locator("#kpi-rate").inner_text() == "0.0%"

    page.get_by_label("Label").fill("ESMO booth")
    page.get_by_role("button", name="Make an open link").click()
    page.wait_for_url(f"{survey_url}?note=**")
    link = re.search(r"/s/[A-Za-z0-9_\-]+", page.locator("td code").first.inner_text())
    assert link

    respondent = browser.new_context(**PHONE).new_page()
    respondent.goto(f"{live_server}{link.group(0)}")
    respondent.locator("label:has(input[name='q_nps'][value='9'])").first.click()
    respondent.get_by_role("button", name="Next").click()
    respondent.get_by_role("button", name="Send my answers").click()
    respondent.get_by_text("Thank you").first.wait_for()
    respondent.context.close()

    page.reload()
    assert page.locator("#kpi-complete").inner_text() == "1"
    assert "1 by open link" in page.content()
    assert "1" in page.locator("#table-activity tbody tr").first.inner_text()
    page.locator("figure.chart.is-rendered").first.wait_for(timeout=30_000)

    page.get_by_role("button", name="Close the survey").click()
    page.wait_for_url(f"{survey_url}?note=**")
    assert "The survey is closed" in page.content()
    page.goto(f"{live_server}/surveys")
    assert "Closed" in page.locator("#survey-list").inner_text()

    # Every survey page works on a phone without scrolling sideways.
    phone = browser.new_context(**PHONE, storage_state=context.storage_state())
    small = phone.new_page()
    for path in ("/surveys", "/surveys/new", "", "/edit", "/send"):
        small.goto(f"{live_server}{path}" if path.startswith("/surveys") else survey_url + path)
        assert _fits(small), f"{small.url} is wider than a phone"
    phone.close()
    context.close()
