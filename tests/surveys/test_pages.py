"""The survey pages through the whole app on both stores: the list's figures, the editor's
checks, the send plan and sending, open links, status changes, the preview and who may do what."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.stakeholders.models import Consent
from cpxm.surveys.editor import STARTER, check_text
from cpxm.surveys.models import Invitation, Survey, SurveyLink
from cpxm.timeutil import utc_now
from tests.factories import make_stakeholder, make_taxonomy

HTML = {"accept": "text/html"}


def _people(session: Session, count: int, *, consent: int) -> None:
    make_taxonomy(session)
    for number in range(count):
        person = make_stakeholder(
            session, type="hcp", email=f"hcp{number}@clinic.example", first_name=f"P{number}"
        )
        if number < consent:
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
    session.flush()


def _create(client: TestClient, text: str = STARTER) -> int:
    answer = client.post(
        "/surveys/save", data={"definition": text, "action": "save"}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    found = re.match(r"/surveys/(\d+)\?note=", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def test_the_editor_checks_as_saving_does_and_names_where_each_fault_is(
    client: TestClient,
) -> None:
    broken = STARTER.replace("question: nps, max: 6", "question: later_one, max: 6")
    answer = client.post("/surveys/check", data={"definition": broken})
    assert answer.status_code == 200
    result = answer.json()
    assert result["valid"] is False
    (fault,) = result["faults"]
    assert fault["where"] == "page 1, question 2 'nps_reason_low'"
    assert "not asked before" in fault["message"]

    assert (
        client.post("/surveys/check", data={"definition": "code: ["})
        .json()["faults"][0]["where"]
        .startswith("line ")
    )
    good = client.post("/surveys/check", data={"definition": STARTER}).json()
    assert good["valid"] and "10 question(s)" in good["summary"]
    assert check_text(STARTER).definition is not None

    # Saving a broken definition keeps the text and lists the fault on the page.
    saved = client.post("/surveys/save", data={"definition": broken}, headers=HTML)
    assert saved.status_code == 422
    assert "not asked before" in saved.text and "later_one" in saved.text


def test_a_survey_is_created_opened_sent_and_monitored(
    client: TestClient, session: Session
) -> None:
    _people(session, 6, consent=4)
    survey_id = _create(client)
    listed = client.get("/surveys", headers=HTML)
    assert "Your visit from our team" in listed.text and "no invitations yet" in listed.text

    # A draft cannot be sent; the page says how to open it.
    plan = client.get(f"/surveys/{survey_id}/send", headers=HTML)
    assert "draft" in plan.text and "status: active" in plan.text
    opened = client.post(
        f"/surveys/{survey_id}/status", data={"status": "active"}, follow_redirects=False
    )
    assert opened.status_code == 303
    survey = session.get_one(Survey, survey_id)
    session.refresh(survey)
    assert survey.status == "active" and survey.version == 2

    plan = client.get(f"/surveys/{survey_id}/send", params={"wave": "2026-12"}, headers=HTML)
    assert plan.status_code == 200
    assert re.search(r'id="plan-invite">4<', plan.text)
    assert re.search(r'id="plan-held">2<', plan.text)
    assert "no survey consent in force for email" in plan.text

    sent = client.post(
        f"/surveys/{survey_id}/send",
        data={"wave": "2026-12", "channel": "email", "expires_days": "10"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert "4%20invitation" in sent.headers["location"]
    assert (
        session.scalar(select(func.count(Invitation.id)).where(Invitation.survey_id == survey_id))
        == 4
    )

    # Just sent, nothing emailed yet (no mail server): the rate reads 0 of 4, not "none".
    page = client.get(f"/surveys/{survey_id}", headers=HTML)
    assert re.search(r'id="kpi-invited">4<', page.text)
    assert re.search(r'id="kpi-rate">0.0%<', page.text)
    assert "0 of 4 invited completed" in page.text
    assert re.search(r"4\s*<br><span class=\"muted\">4 not yet sent", client.get("/surveys").text)

    # The metrics page counts emailed invitations: it says these are waiting, not "none".
    metrics = client.get("/analytics/metrics", params={"metric": "nps"}, headers=HTML)
    assert "4 invitation(s) waiting to be sent" in metrics.text

    # Sending the same wave again invites nobody twice.
    again = client.get(f"/surveys/{survey_id}/send", params={"wave": "2026-12"}, headers=HTML)
    assert re.search(r'id="plan-invite">0<', again.text)

    link = client.post(
        f"/surveys/{survey_id}/links",
        data={"label": "ESMO booth", "channel": "", "expires_on": "2027-01-31"},
        follow_redirects=False,
    )
    assert link.status_code == 303
    made = session.scalars(select(SurveyLink).where(SurveyLink.survey_id == survey_id)).one()
    assert made.expires_at is not None and made.expires_at.date().isoformat() == "2027-02-01"
    assert f"/s/{made.token}" in client.get(f"/surveys/{survey_id}").text
    client.post(f"/surveys/{survey_id}/links/{made.id}/close", follow_redirects=False)
    session.refresh(made)
    assert made.closed_at is not None

    closed = client.post(
        f"/surveys/{survey_id}/status", data={"status": "closed"}, follow_redirects=False
    )
    assert closed.status_code == 303
    session.refresh(survey)
    assert survey.status == "closed"


def test_the_preview_walks_the_pages_in_each_language_with_display_logic(
    client: TestClient, session: Session
) -> None:
    make_taxonomy(session)
    survey_id = _create(client)
    german = client.get(f"/surveys/{survey_id}/preview", params={"lang": "de"}, headers=HTML)
    assert german.status_code == 200
    assert "Wie wahrscheinlich empfehlen Sie uns" in german.text
    assert "Guten Tag Alex" in german.text
    assert "Nothing you answer is stored" in german.text
    # A required question left empty is refused as a respondent's would be.
    empty = client.post(
        f"/surveys/{survey_id}/preview", data={"page": "1", "lang": "en", "action": "next"}
    )
    assert empty.status_code == 422
    # A promoter does not see the "what should we do better" question; page 2 follows.
    promoter = client.post(
        f"/surveys/{survey_id}/preview",
        data={"page": "1", "lang": "en", "action": "next", "q_nps": "10"},
    )
    assert promoter.status_code == 200
    assert "How useful was the information?" in promoter.text
    state = re.search(r'name="preview_state" value="([^"]+)"', promoter.text)
    assert state and "nps" in state.group(1)
    finished = client.post(
        f"/surveys/{survey_id}/preview",
        data={
            "page": "2",
            "lang": "en",
            "action": "submit",
            "preview_state": '{"nps": [10, null, null]}',
        },
    )
    assert "End of the preview" in finished.text
    assert session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_who_may_open_and_change_surveys(
    client: TestClient, client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_taxonomy(session)
    survey_id = _create(client)
    commercial = client_as("commercial")
    assert commercial.get("/surveys", headers=HTML).status_code == 200
    page = commercial.get(f"/surveys/{survey_id}", headers=HTML)
    assert page.status_code == 200 and "Edit definition" not in page.text
    for path in (f"/surveys/{survey_id}/edit", "/surveys/new", f"/surveys/{survey_id}/send"):
        assert commercial.get(path, headers=HTML).status_code == 403, path
    refused = commercial.post(f"/surveys/{survey_id}/status", data={"status": "closed"})
    assert refused.status_code == 403
    assert client_as("viewer").get("/surveys", headers=HTML).status_code == 403
    lead = client_as("cx_lead")
    assert lead.get(f"/surveys/{survey_id}/edit", headers=HTML).status_code == 200
    # Last year's survey, copied: a new code, in draft, to change and save as a new survey.
    copy = lead.get("/surveys/new", params={"from": survey_id}, headers=HTML)
    assert "code: site_visit_pulse_copy" in copy.text and "status: draft" in copy.text
    assert "Create survey" in copy.text


def test_a_confidential_survey_shows_totals_but_nothing_day_by_day(
    client: TestClient, session: Session
) -> None:
    from tests.factories import make_response

    make_taxonomy(session)
    survey_id = _create(client, STARTER.replace("kind: transactional", "kind: employee_pulse"))
    survey = session.get_one(Survey, survey_id)
    assert survey.confidential
    make_response(session, survey=survey)
    page = client.get(f"/surveys/{survey_id}", headers=HTML)
    assert re.search(r'id="kpi-complete">1<', page.text)
    assert "only the totals above are shown" in page.text
    assert 'id="table-activity"' not in page.text and "data-vega-spec" not in page.text
    assert client.get(f"/surveys/{survey_id}/activity.csv").text.strip().count("\n") == 0
