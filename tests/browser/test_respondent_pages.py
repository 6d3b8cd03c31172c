"""The respondent pages in real Chromium: a phone, the keyboard only, errors, resume, thanks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cpxm.surveys.models import Response
from tests.factories import make_stakeholder
from tests.surveys.helpers import make_invitation, make_open_link, setup_survey

PHONE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}


def _invitation_token(engine: Engine, language: str = "en") -> str:
    with Session(engine) as session:
        survey = setup_survey(session)
        person = make_stakeholder(session, first_name="Ada", language=language)
        token = make_invitation(session, survey, person).token
        session.commit()
    return token


def test_a_respondent_answers_on_a_phone_with_errors_and_resume(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    token = _invitation_token(live_store)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/s/{token}")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Dear Ada" in page.content()
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Skipping the required NPS question: the error is shown and tied to its question.
    page.get_by_role("button", name="Next").click()
    error = page.locator("#error-nps")
    assert error.is_visible() and "needs an answer" in error.inner_text()
    question = page.locator("#question-nps")
    assert "error-nps" in (question.get_attribute("aria-describedby") or "")

    page.get_by_role("radio", name="4", exact=True).first.check()
    page.get_by_label("What is the main reason for your score?").fill("Too many visits.")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url(f"**/s/{token}?page=2")

    # Leave and come back: the link resumes where the respondent stopped.
    page.goto(f"{live_server}/s/{token}")
    assert "Page 2 of 3" in page.content()
    page.get_by_role("button", name="Back").click()
    page.wait_for_url(f"**/s/{token}?page=1")
    assert page.get_by_label("What is the main reason for your score?").input_value() == (
        "Too many visits."
    )
    # NPS 4 shows the follow-up question (display logic).
    assert page.get_by_text("May we call you to put things right?").is_visible()
    context.close()


def test_the_keyboard_alone_completes_a_survey(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    token = _invitation_token(live_store, language="de")
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/s/{token}")
    assert page.locator("html").get_attribute("lang") == "de"
    # Tab to the first NPS point, choose 9 with the arrow keys, then submit with Enter.
    page.keyboard.press("Tab")
    while page.evaluate("document.activeElement.name") != "q_nps":
        page.keyboard.press("Tab")
    for _ in range(9):
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.value") == "9"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{token}?page=2")
    page.get_by_role("radio", name="5", exact=True).first.check()
    page.get_by_role("button", name="Weiter").click()
    page.wait_for_url(f"**/s/{token}?page=3")
    page.get_by_role("button", name="Antworten senden").click()
    page.wait_for_url(f"**/s/{token}/thanks")
    assert "Danke, Ada" in page.content()
    # The finished link cannot be used again.
    page.goto(f"{live_server}/s/{token}")
    assert "bereits geantwortet" in page.content()
    with Session(live_store) as session:
        assert (
            session.scalar(select(func.count(Response.id)).where(Response.status == "complete"))
            == 1
        )
    context.close()


def test_a_tampered_link_gets_a_friendly_page(browser: Any, live_server: str) -> None:
    page = browser.new_page()
    answer = page.goto(f"{live_server}/s/notARealTokenAtAll123")
    assert answer is not None and answer.status == 404
    assert page.get_by_role("heading", name="This link does not work").is_visible()
    page.close()


def test_display_logic_follows_the_answers_on_the_same_page(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    token = _invitation_token(live_store)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    page.goto(f"{live_server}/s/{token}")
    follow_up = page.locator("#question-detractor_followup")
    # The follow-up is for detractors (NPS <= 6): hidden until the score says so.
    assert follow_up.is_hidden()
    page.get_by_role("radio", name="9", exact=True).first.check()
    assert follow_up.is_hidden()
    page.get_by_role("radio", name="3", exact=True).first.check()
    assert follow_up.is_visible()
    assert page.get_by_role("radio", name="Yes").is_visible()
    page.get_by_role("radio", name="10", exact=True).first.check()
    assert follow_up.is_hidden()
    # Hidden means hidden for assistive technology and the keyboard too.
    assert page.get_by_role("radio", name="Yes").count() == 0
    assert not any("Content Security Policy" in text for text in refused), refused
    context.close()

    # Without JavaScript the question stays on the page and the server decides.
    context = browser.new_context(java_script_enabled=False, **PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/s/{token}")
    assert page.locator("#question-detractor_followup").is_visible()
    context.close()


def _same_row(page: Any, question: str) -> bool:
    points = page.locator(f"#question-{question} .r-scale-point span")
    tops = {round(points.nth(i).bounding_box()["y"]) for i in range(points.count())}
    return len(tops) == 1


def test_on_a_phone_every_scale_keeps_its_row_and_names_its_ends(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    with Session(live_store) as session:
        survey = setup_survey(session)
        token = make_open_link(session, survey).token
        session.commit()
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/s/{token}")
    # An open link knows nobody: the greeting goes with the missing name.
    assert "This takes about three minutes." in page.content()
    assert "Dear ," not in page.content() and "Dear  " not in page.content()
    # The NPS end labels stay visible on a phone, under the row of eleven points.
    assert page.get_by_text("Not at all likely", exact=True).is_visible()
    assert page.get_by_text("Extremely likely", exact=True).is_visible()
    assert _same_row(page, "nps")

    # Nothing answered: focus moves to the error summary, so a screen reader starts there.
    page.get_by_role("button", name="Next").click()
    page.wait_for_load_state()
    assert page.evaluate("document.activeElement && document.activeElement.id") == ("error-summary")

    page.get_by_role("radio", name="9", exact=True).first.check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**page=2**")
    # CSAT and CES name their ends even though the survey gives no labels; the 7-point CES
    # scale keeps all seven points on one row.
    for label in ("Very dissatisfied", "Very satisfied", "Strongly disagree", "Strongly agree"):
        assert page.get_by_text(label, exact=True).first.is_visible(), label
    assert _same_row(page, "csat") and _same_row(page, "ces")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
