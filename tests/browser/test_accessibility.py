"""axe-core on every page of the app in Debian's Chromium: no serious or critical violation.

The pages are found by walking the app's routes (every GET route answering HTML), so a page
added later is checked too, or this test fails naming the path it could not fill in. axe-core
is the npm package pinned in ``tests/package.json`` (``npm ci`` in ``tests/``, which
scripts/_bootstrap.sh runs), injected into each page by Playwright.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cpxm.app import create_app
from cpxm.auth.service import create_user
from cpxm.cases import service as cases
from cpxm.identity.models import MatchPair, SourceRecord
from cpxm.ingest.mapping import resolve_mapping
from cpxm.ingest.service import import_file
from cpxm.initiatives.schemas import InitiativeIn
from cpxm.initiatives.service import create_initiative
from cpxm.safety.screening import screen_items
from tests.factories import make_interaction, make_stakeholder, make_taxonomy
from tests.safety.helpers import make_feedback
from tests.surveys.helpers import make_example_survey, make_invitation, make_open_link

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
PASSWORD = "correct horse battery staple 42"
PHONE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}
# Third-party pages served from packaged assets, not ours to restyle: the API docs.
NOT_OURS = {"/docs", "/docs/oauth2-redirect", "/redoc"}
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip(
            f"axe-core is not installed ({AXE} is missing): run `npm ci` in tests/ "
            "(scripts/_bootstrap.sh does when npm is there)"
        )
    return AXE.read_text()


def html_pages() -> list[str]:
    """Every path of a GET route that answers an HTML page, as the app declares it."""
    app = create_app(sessionmaker_=sessionmaker())
    paths = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if (
            isinstance(route, APIRoute)
            and "GET" in (context.methods or ())
            and route.response_class is HTMLResponse
            and str(context.path) not in NOT_OURS
        ):
            paths.append(str(context.path))
    return sorted(set(paths))


def _seed(engine: Engine) -> dict[str, str]:
    """A store with one of everything a page can show; the values fill the routes' paths."""
    with Session(engine) as session:
        make_taxonomy(session)
        create_user(session, email="admin@pharma.example", role="admin", password=PASSWORD)
        person = make_stakeholder(
            session, display_name="Dr Jana Herrmann", first_name="Jana", country_code="DE"
        )
        for day in range(5):
            make_interaction(
                session,
                stakeholder=person,
                occurred_at=datetime(2026, 11, 30) - timedelta(days=day),
                department_code=("sales", "medical_affairs")[day % 2],
                notes="Asked for the long-form prescribing information.",
            )
        case = cases.open_case(
            session,
            case_type="manual",
            title="Call back about the dosing",
            stakeholder_id=person.id,
            country="DE",
        ).case
        item = make_feedback(
            session,
            "I had a seizure after the second injection.",
            stakeholder_id=person.id,
            received_at=datetime(2026, 11, 23, 9, 0),
        )
        (safety_case,) = screen_items(session, items=[item], now=datetime(2026, 11, 23, 9, 5))[1]
        records = []
        for system, last_name in (("crm", "Müller"), ("events", "Mueller")):
            record = SourceRecord(
                source_system=system,
                source_id=f"{system}-1",
                stakeholder_id=make_stakeholder(session).id,
                attributes={"type": "hcp", "first_name": "Anna", "last_name": last_name},
                imported_at=datetime(2026, 1, 1),
            )
            session.add(record)
            session.flush()
            records.append(record)
        session.add(
            MatchPair(
                record_low_id=records[0].id, record_high_id=records[1].id, match_probability=0.8
            )
        )
        survey = make_example_survey(session)
        invitation = make_invitation(session, survey, person)
        link = make_open_link(session, survey)
        initiative = create_initiative(
            session,
            data=InitiativeIn(
                code="portal_chat",
                title="Live chat on the HCP portal",
                problem="HCPs wait days for answers to simple medical questions.",
                owner="Digital team",
            ),
        )
        session.commit()
        # An import run with a quarantined row (Narnia is no country), through the real import.
        imported = import_file(
            engine,
            path=EXAMPLES / "crm_accounts.csv",
            mapping=resolve_mapping("crm-accounts"),
        )
        return {
            "run_id": str(imported.run_id),
            "name": "crm-accounts",  # a mapping template
            "code": initiative.code,
            "survey_id": str(survey.id),
            "stakeholder_id": str(person.id),
            "case_id": str(case.id),
            "safety_case_id": str(safety_case.id),
            "token": invitation.token,
            "open_link": link.token,
        }


def _fill(path: str, ids: dict[str, str]) -> str:
    if path.startswith("/safety/cases/"):
        path = path.replace("{case_id}", ids["safety_case_id"])
    filled = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), m.group(0)), path)
    assert "{" not in filled, f"{path}: give the accessibility test a value for its parameter"
    return filled


def _violations(page: Any, axe_source: str) -> list[str]:
    page.add_script_tag(content=axe_source)
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    return [
        f"{v['impact']} {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
        for v in found
        if v["impact"] in BLOCKING
    ]


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/auth/sign-in")
    page.get_by_label("Email").fill("admin@pharma.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_the_walk_finds_the_pages() -> None:
    # Guards the test below: a walk that found nothing would pass vacuously.
    pages = html_pages()
    assert {"/", "/stakeholders", "/cases", "/safety", "/s/{token}", "/surveys"} <= set(pages)


def test_no_page_has_a_serious_or_critical_accessibility_violation(
    browser: Any, live_server: str, live_store: Engine, axe_source: str
) -> None:
    ids = _seed(live_store)
    failures: dict[str, list[str]] = {}
    # CSP allows no inline script; axe is injected as one, so this context bypasses CSP.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server}/auth/sign-in")
    failures.update({"signed out": f} if (f := _violations(page, axe_source)) else {})
    _sign_in(page, live_server)
    checked = []
    for path in html_pages():
        url = _fill(path, ids)
        answer = page.goto(f"{live_server}{url}")
        assert answer is not None and answer.status < 500, f"{url} answered {answer}"
        page.wait_for_load_state("networkidle")
        found = _violations(page, axe_source)
        if found:
            failures[url] = found
        checked.append(url)
    # The states that only a visit reaches: an error on a respondent page, an open link,
    # a page that does not exist, and the internal app on a phone.
    page.goto(f"{live_server}/s/{ids['token']}")
    page.get_by_role("button", name="Next").click()
    page.wait_for_load_state()
    failures.update({"respondent errors": f} if (f := _violations(page, axe_source)) else {})
    page.goto(f"{live_server}/s/{ids['open_link']}")
    failures.update({"open link": f} if (f := _violations(page, axe_source)) else {})
    page.goto(f"{live_server}/no-such-page")
    failures.update({"404": f} if (f := _violations(page, axe_source)) else {})
    context.close()
    phone = browser.new_context(bypass_csp=True, **PHONE)
    page = phone.new_page()
    _sign_in(page, live_server)
    for url in ("/", "/stakeholders", f"/stakeholders/{ids['stakeholder_id']}", "/cases"):
        page.goto(f"{live_server}{url}")
        page.wait_for_load_state("networkidle")
        failures.update({f"phone {url}": f} if (f := _violations(page, axe_source)) else {})
    phone.close()
    assert len(checked) >= 20, checked
    assert not failures, "\n".join(f"{url}: {'; '.join(found)}" for url, found in failures.items())
