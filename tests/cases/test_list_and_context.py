"""The case list works like the tools it replaces (totals, paging, filters, search, sort, CSV of
what is filtered), and a case page shows what the case is about and its history in words."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.access import pseudonym
from cpxm.cases import history, service
from cpxm.surveys.models import Invitation
from tests.cases.helpers import make_org
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
)

START = datetime(2026, 11, 2, 9, 0)


def _rows(page: str) -> list[str]:
    """The case numbers in the list's table, in order."""
    return re.findall(r'<tr[^>]*>\s*<td><a href="/cases/(\d+)">', page)


def test_the_list_counts_pages_filters_searches_sorts_and_exports_what_it_shows(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_org(session)
    herrmann = make_stakeholder(session, type="hcp", display_name="Dr Jana Herrmann")
    patient = make_stakeholder(session, type="patient", display_name="Maria Keller")
    opened = []
    for number in range(60):
        person = herrmann if number % 10 == 0 else (patient if number == 7 else None)
        opened.append(
            service.open_case(
                session,
                case_type="manual",
                title=f"Follow-up number {number}",
                priority="urgent" if number % 3 == 0 else "normal",
                stakeholder_id=person.id if person else None,
                country="DE",
                now=START + timedelta(hours=number),
            ).case
        )
    session.commit()
    admin = client_as("admin")

    first = admin.get("/cases", params={"view": "all"})
    assert first.status_code == 200
    assert "<strong>60</strong> case(s); showing 1–50" in first.text
    assert len(_rows(first.text)) == 50
    assert "offset=50" in first.text  # the pager's next page
    second = admin.get("/cases", params={"view": "all", "offset": 50})
    assert len(_rows(second.text)) == 10
    assert set(_rows(first.text)).isdisjoint(_rows(second.text))

    urgent = admin.get("/cases", params={"view": "all", "priority": "urgent"})
    assert "<strong>20</strong> case(s)" in urgent.text
    newest = admin.get("/cases", params={"view": "all", "sort": "newest"})
    assert _rows(newest.text)[0] == str(opened[-1].id)
    oldest = admin.get("/cases", params={"view": "all", "sort": "oldest"})
    assert _rows(oldest.text)[0] == str(opened[0].id)

    found = admin.get("/cases", params={"view": "all", "q": "herrmann"})
    assert sorted(map(int, _rows(found.text))) == sorted(c.id for c in opened[::10])
    assert f'href="/stakeholders/{herrmann.id}"' in found.text
    # A number finds the case of that number (and any title that says it).
    by_number = _rows(admin.get("/cases", params={"view": "all", "q": str(opened[42].id)}).text)
    assert str(opened[42].id) in by_number and len(by_number) <= 2
    # A role that may not see who patients are can neither find one by name nor read it.
    commercial = client_as("commercial")
    assert "Maria Keller" in admin.get("/cases", params={"view": "all", "q": "Keller"}).text
    hidden = commercial.get("/cases", params={"view": "all", "q": "Keller"})
    assert hidden.status_code == 200 and _rows(hidden.text) == []
    listed = commercial.get("/cases", params={"view": "all", "offset": 0, "sort": "oldest"})
    assert "Maria Keller" not in listed.text

    exported = commercial.get(
        "/cases/export.csv", params={"view": "all", "priority": "urgent", "sort": "oldest"}
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(row["case_id"]) for row in rows] == [c.id for c in opened[::3]]
    by_id = {int(row["case_id"]): row for row in rows}
    assert by_id[opened[0].id]["person"] == "Dr Jana Herrmann"
    assert "Maria Keller" not in exported.text

    api = admin.get("/api/v1/cases", params={"q": "Herrmann", "sort": "newest", "limit": 2})
    assert api.json()["total"] == 6
    assert [item["id"] for item in api.json()["items"]] == [opened[50].id, opened[40].id]
    assert admin.get("/api/v1/cases", params={"sort": "sideways"}).status_code == 422
    assert admin.get("/cases", params={"assignee": "somebody"}).status_code == 422


def test_a_case_page_shows_the_response_what_came_before_and_a_readable_history(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    org = make_org(session)
    hcp = make_stakeholder(session, type="hcp", display_name="Dr Paul Weber", country_code="DE")
    rep = make_stakeholder(session, type="employee", display_name="Eva Sales")
    survey = make_survey(session, name="HCP relationship pulse")
    nps = make_question(session, survey=survey, prompt="How likely are you to recommend us?")
    why = make_question(
        session, survey=survey, question_type="text", position=2, prompt="What is the reason?"
    )
    visit = make_interaction(session, stakeholder=hcp, employee_id=rep.id, interaction_type="visit")
    invitation = Invitation(
        survey_id=survey.id,
        stakeholder_id=hcp.id,
        token="case-context-token",
        channel_code="email",
        status="completed",
        trigger_interaction_id=visit.id,
    )
    session.add(invitation)
    session.flush()
    response = make_response(
        session, survey=survey, stakeholder=hcp, answers={nps: 2, why: "Reps never listen."}
    )
    response.invitation_id = invitation.id
    case = service.open_case(
        session,
        case_type="detractor",
        title=f"Response {response.id} scored NPS 2",
        stakeholder_id=hcp.id,
        response_id=response.id,
        country="DE",
    ).case
    service.assign_case(session, case=case, actor_user_id=org.lead.id, user_id=org.agent.id)
    session.commit()

    page = client_as("admin").get(f"/cases/{case.id}")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "HCP relationship pulse" in text
    assert "How likely are you to recommend us?" in text and ">2<" in text
    assert "Reps never listen." in text
    assert "What came before" in text and "with Eva Sales" in text
    assert f'<a href="/stakeholders/{hcp.id}">Dr Paul Weber</a>' in text
    # History in words, with names: no raw ids or dicts.
    assert "Opened as detractor" in text
    assert f"Assigned to {org.agent.display_name}, by {org.lead.display_name}" in text
    assert "User id" not in text and "{'" not in text
    # Assigning starts from whoever has the case now.
    assert f'<option value="user:{org.agent.id}" selected>' in page.text
    preview = client_as("admin").get(f"/cases/{case.id}/recovery-preview")
    assert preview.status_code == 200 and "Preview" in preview.text
    assert "disabled" in preview.text


def test_a_patient_s_words_stay_withheld_on_the_case_page(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_org(session)
    patient = make_stakeholder(session, type="patient", display_name="Maria Keller")
    survey = make_survey(session, kind="patient_support", name="Support programme check-in")
    why = make_question(session, survey=survey, question_type="text", prompt="Tell us more")
    response = make_response(
        session, survey=survey, stakeholder=patient, answers={why: "My husband had nausea."}
    )
    case = service.open_case(
        session,
        case_type="manual",
        title="Patient follow-up",
        stakeholder_id=patient.id,
        response_id=response.id,
        country="DE",
    ).case
    session.commit()
    page = client_as("commercial").get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert "My husband had nausea." not in page.text
    assert "withheld from your role" in page.text
    assert "Maria Keller" not in page.text
    assert pseudonym(session, patient.id) in page.text
    assert "My husband had nausea." in client_as("admin").get(f"/cases/{case.id}").text


def test_the_history_words_events_as_every_writer_stored_them() -> None:
    """The demo's follow-ups store an assignment as ``assignee_user_id`` and some closes carry
    no resolution code: the trail still names the assignee and never says "Closed: closed"."""
    names = history.Names(users={5: "Lena Hoffmann"}, teams={})
    events = [
        SimpleNamespace(event_type=kind, details=details, actor_user_id=None, occurred_at=START)
        for kind, details in [
            ("assigned", {"assignee_user_id": 5}),
            ("assigned", {"user_id": 5}),
            ("closed", {}),
            ("closed", {"resolution_code": "called_back"}),
        ]
    ]
    entries = history.trail(events, names)
    assert [entry.sentence for entry in entries] == [
        "Assigned to Lena Hoffmann",
        "Assigned to Lena Hoffmann",
        "Closed",
        "Closed: called back",
    ]
    assert all(entry.details == [] for entry in entries)  # nothing said twice, no user id
