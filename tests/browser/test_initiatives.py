"""The backlog, an initiative with its Kano chart, and the maturity page in real Chromium."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.auth.service import create_user
from cpxm.initiatives.schemas import InitiativeIn
from cpxm.initiatives.service import create_initiative
from tests.factories import make_stakeholder, make_taxonomy
from tests.initiatives.helpers import AS_OF, answer, feedback, kano_survey, questions

PASSWORD = "correct horse battery staple 42"


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        make_taxonomy(session)
        create_user(session, email="lead@pharma.example", role="cx_lead", password=PASSWORD)
        survey = kano_survey(session)
        asked = questions(session, survey)
        pairs = [("like", "dislike"), ("expect", "dislike"), ("like", "neutral")]
        for number in range(12):
            person = make_stakeholder(session, type="hcp")
            feedback(session, stakeholder=person, at=AS_OF - timedelta(days=number),
                     themes=("responsiveness",), text="Nobody answered my question.")  # fmt: skip
            kano = {asked["portal"]: pairs[number % 3], asked["quiz"]: ("neutral", "neutral")}
            answer(session, survey=survey, stakeholder=person, at=AS_OF, kano=kano)
        create_initiative(
            session,
            data=InitiativeIn(
                code="faster_answers", title="Answer within 48 hours", owner="Medical information",
                problem="HCPs wait too long.", theme="responsiveness", moscow="must",
                kano_survey="features", kano_questions=["portal", "quiz"], impact=2,
            ),
        )  # fmt: skip
        session.commit()


def test_a_cx_lead_reads_the_backlog_kano_and_maturity(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    _seed(live_store)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/initiatives")
    page.wait_for_url("**/auth/sign-in**")
    page.get_by_label("Email").fill("lead@pharma.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/initiatives")
    nav = page.get_by_role("navigation", name="Main")
    assert "Initiatives" in [text.strip() for text in nav.get_by_role("link").all_inner_texts()]
    row = page.locator("#table-backlog tbody tr").first
    assert "Answer within 48 hours" in row.inner_text() and "12" in row.inner_text()
    page.locator("figure[data-vega-spec='chart-rice'] svg").first.wait_for(timeout=15_000)

    page.get_by_role("link", name="Answer within 48 hours").click()
    page.wait_for_url("**/initiatives/faster_answers")
    assert page.get_by_role("heading", name="Kano analysis").is_visible()
    page.locator("figure[data-vega-spec='chart-kano'] svg").first.wait_for(timeout=15_000)
    kano_rows = page.locator("#table-kano tbody tr").all_inner_texts()
    assert "Must-be" in kano_rows[0] or "One-dimensional" in kano_rows[0]
    assert "Indifferent" in kano_rows[1]
    assert "Nobody answered my question." in page.locator("#verbatims").inner_text()

    page.get_by_role("link", name="Maturity").click()
    page.wait_for_url("**/maturity")
    assert page.get_by_role("heading", name="Governance: Crawl").is_visible()
    assert page.locator("#table-maturity tbody tr").count() == 5
    context.close()
