"""The safety case, PV triage, governance and case pages in Chromium: the app's own controls
(never the browser's default ones), dates on one line, trails in words and names instead of
ids and emails, and no page wider than a 390 px phone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.auth.service import create_user
from cpxm.cases import service as cases
from cpxm.governance import service as governance
from cpxm.safety.screening import screen_items
from tests.factories import make_stakeholder, make_taxonomy
from tests.safety.helpers import make_feedback

PASSWORD = "correct horse battery staple 42"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
MATRIX = """
teams:
  - {name: Field sales Europe, department: sales}
raci:
  - activity: detractor_followup
    responsible: team:Field sales Europe
    accountable: user:lead@pharma.example
    informed: [user:pv@pharma.example]
  - activity: safety_case
    scope: {country: DE, stakeholder_type: hcp}
    responsible: [user:pv@pharma.example]
    accountable: [user:lead@pharma.example]
"""

# What a page shows that it should not: controls the stylesheet does not reach (Chromium's
# default 13.33 px control font), dates broken over lines, and elements past the viewport
# outside a table's own scroll box.
CHECK = """() => {
  const DATE = /^\\s*\\d{4}-\\d{2}-\\d{2}( \\d{2}:\\d{2}(:\\d{2})?)?( UTC)?\\s*$/;
  const controls = [...document.querySelectorAll(
      'main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main select,'
      + ' main button, main textarea')]
    .filter(el => getComputedStyle(el).fontSize === '13.3333px')
    .map(el => el.outerHTML.slice(0, 80));
  const wrapped = [...document.querySelectorAll('main time, main td, main dd')]
    .filter(el => DATE.test(el.innerText))
    .filter(el => {
      const range = document.createRange(); range.selectNodeContents(el);
      return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
    })
    .map(el => el.innerText);
  return {controls, wrapped,
          overflow: document.documentElement.scrollWidth - window.innerWidth};
}"""


def _seed(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        make_taxonomy(session)
        create_user(session, email="pv@pharma.example", role="pv_officer", password=PASSWORD)
        create_user(
            session,
            email="lead@pharma.example",
            role="cx_lead",
            password=PASSWORD,
            display_name="Morgan Reyes",
        )
        create_user(session, email="admin@pharma.example", role="admin", password=PASSWORD)
        governance.load_matrix(session, text=MATRIX)
        person = make_stakeholder(
            session, display_name="Dr Jana Herrmann", first_name="Jana", country_code="DE"
        )
        item = make_feedback(
            session,
            "I had a seizure after the second injection of Ondaris.",
            stakeholder_id=person.id,
            received_at=datetime(2026, 11, 23, 9, 0),
        )
        hypothetical = make_feedback(
            session,
            "Can Ondaris be used during breastfeeding?",
            source_kind="medical_inquiry",
            stakeholder_id=person.id,
            received_at=datetime(2026, 11, 24, 9, 0),
        )
        (safety_case,) = screen_items(
            session, items=[item, hypothetical], now=datetime(2026, 11, 24, 9, 5)
        )[1]
        case = cases.open_case(
            session,
            case_type="detractor",
            title="NPS 2 from Dr Herrmann",
            stakeholder_id=person.id,
            country="DE",
        ).case
        session.commit()
        return {"safety_case": safety_case.id, "case": case.id, "person": person.id}


def _sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/auth/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _look(page: Any) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(CHECK)
    return found


def test_pv_pages_use_the_app_look_on_a_desk_and_a_phone(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    ids = _seed(live_store)
    pages = [f"/safety/cases/{ids['safety_case']}", "/safety/triage", "/safety", "/governance"]
    for viewport in (DESKTOP, PHONE):
        context = browser.new_context(**viewport)
        page = context.new_page()
        _sign_in(page, live_server, "pv@pharma.example")
        for path in pages:
            answer = page.goto(f"{live_server}{path}")
            assert answer is not None and answer.status == 200, path
            look = _look(page)
            assert look["controls"] == [], f"{path}: browser-default controls {look['controls']}"
            assert look["wrapped"] == [], f"{path}: dates broken over lines {look['wrapped']}"
            assert look["overflow"] <= 0, f"{path} is {look['overflow']} px wider than the screen"
        context.close()

    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    _sign_in(page, live_server, "pv@pharma.example")
    page.goto(f"{live_server}/safety/cases/{ids['safety_case']}")
    facts = page.locator("dl.facts").inner_text()
    assert "Dr Jana Herrmann" in facts  # the reporter by name, linked to the profile
    assert page.get_by_role("link", name="Dr Jana Herrmann").get_attribute("href") == (
        f"/stakeholders/{ids['person']}"
    )
    trail = page.locator("ol.trail").inner_text()
    assert "Opened by screening as adverse event" in trail
    assert "{" not in trail and "subtypes" not in trail

    # The trail says what PV did, by name.
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    assert "Acknowledged" in page.locator("ol.trail").inner_text()

    page.goto(f"{live_server}/governance")
    matrix = page.locator("#raci-matrix").inner_text()
    assert "Morgan Reyes" in matrix and "lead@pharma.example" not in matrix
    assert "user:" not in matrix and "team:" not in matrix
    assert "Stakeholder type: HCP" in matrix and "Detractor follow-up" in matrix

    page.goto(f"{live_server}/safety/triage")
    assert "1 entry" in page.locator(".list-count").inner_text()
    assert "breastfeeding" in page.locator("table.data-table").inner_text()
    # Who wrote it, linked to their profile.
    writer = page.locator("table.data-table").get_by_role("link", name="Dr Jana Herrmann")
    assert writer.get_attribute("href") == f"/stakeholders/{ids['person']}"
    context.close()


def test_a_case_names_people_not_emails_in_its_facts_and_trail(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    ids = _seed(live_store)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    _sign_in(page, live_server, "lead@pharma.example")
    page.goto(f"{live_server}/cases/{ids['case']}")
    facts = page.locator("dl.facts").inner_text()
    assert "Morgan Reyes" in facts and "lead@pharma.example" not in facts
    assert "Detractor follow-up" in facts
    history = page.locator("ol.trail").inner_text()
    assert "responsible team Field sales Europe" in history
    assert "accountable Morgan Reyes" in history
    assert "user:" not in history and "team:" not in history
    look = _look(page)
    assert look["controls"] == [] and look["wrapped"] == [], look
    assert look["overflow"] <= 0, f"the case is {look['overflow']} px wider than the phone"

    # The analytics tabs say "&" once, not the escaped "&amp;".
    page.goto(f"{live_server}/analytics/metrics")
    assert page.get_by_role("link", name="Employees & customers").count() == 1
    assert "&amp;" not in page.locator("main").inner_text()
    context.close()


def test_a_long_file_name_does_not_widen_a_phone_page(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    from cpxm.ingest.models import ImportRun

    _seed(live_store)
    with Session(live_store) as session:
        run = ImportRun(
            source_system="crm",
            target="stakeholders",
            mapping_name="crm-accounts",
            mapping={},
            file_name="crm_person_accounts_export_2026_12_06_all_countries_full.csv",
            status="completed",
            started_at=datetime(2026, 12, 6, 8, 0),
            finished_at=datetime(2026, 12, 6, 8, 1),
        )
        session.add(run)
        session.commit()
        run_id = run.id
    context = browser.new_context(**PHONE)
    page = context.new_page()
    _sign_in(page, live_server, "admin@pharma.example")
    for path in (f"/imports/{run_id}", "/imports", "/imports/quarantine"):
        page.goto(f"{live_server}{path}")
        look = _look(page)
        assert look["overflow"] <= 0, f"{path} is {look['overflow']} px wider than the phone"
        assert look["controls"] == [], f"{path}: browser-default controls {look['controls']}"
    context.close()
