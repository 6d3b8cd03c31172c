"""The internal app in real Chromium on a 390 px phone: signed in through the form, the nav of
the role, search to a profile, and no page wider than the screen."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.auth.service import create_user
from tests.factories import make_affiliation, make_interaction, make_stakeholder, make_taxonomy

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PASSWORD = "correct horse battery staple 42"


def _seed(engine: Engine) -> int:
    with Session(engine) as session:
        make_taxonomy(session)
        create_user(session, email="lead@pharma.example", role="cx_lead", password=PASSWORD)
        clinic = make_stakeholder(
            session, type="hospital", display_name="Universitätsklinikum Schleswig-Holstein"
        )
        person = make_stakeholder(
            session,
            display_name="Prof. Dr. med. Hannelore Herrmann-Oberdorfer",
            email="hannelore.herrmann-oberdorfer@uksh-kiel.example",
            professional_id="LANR-123456789",
            country_code="DE",
            therapeutic_areas=("oncology",),
            channel_preferences=("email",),
        )
        make_affiliation(session, person=person, organisation=clinic, role="head_of_department")
        for day in range(80):
            make_interaction(
                session,
                stakeholder=person,
                occurred_at=datetime(2026, 11, 30) - timedelta(days=day),
                department_code=("sales", "medical_affairs", "patient_services")[day % 3],
                notes="Asked for the long-form prescribing information and a call back "
                "from the medical science liaison about the dosing in renal impairment",
            )
        session.commit()
        return person.id


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_cx_lead_finds_a_person_on_a_phone_and_nothing_scrolls_sideways(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    person_id = _seed(live_store)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/stakeholders")
    page.wait_for_url("**/auth/sign-in**")
    page.get_by_label("Email").fill("lead@pharma.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/stakeholders")

    nav = page.get_by_role("navigation", name="Main")
    labels = [label.strip() for label in nav.get_by_role("link").all_inner_texts()]
    assert {"Overview", "Stakeholders", "Feedback", "Cases"} <= set(labels)
    assert "Safety" not in labels and "People" not in labels
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert _fits(page), "the stakeholder list is wider than the phone"

    page.get_by_label("Search").fill("Schleswig")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Prof. Dr. med. Hannelore Herrmann-Oberdorfer").click()
    page.wait_for_url(f"**/stakeholders/{person_id}")
    assert page.get_by_role("heading", name="Timeline").is_visible()
    assert "80 interaction(s)" in page.content()
    assert _fits(page), "the profile is wider than the phone"

    page.get_by_label("Department").select_option("medical_affairs")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**department=medical_affairs**")
    assert "27 interaction(s)" in page.content()

    for path in ("/", "/feedback", "/cases", "/governance"):
        page.goto(f"{live_server}{path}")
        assert _fits(page), f"{path} is wider than the phone"

    page.goto(f"{live_server}/safety")
    assert page.get_by_role("heading", name="Your role may not open this").is_visible()
    assert _fits(page)
    context.close()
