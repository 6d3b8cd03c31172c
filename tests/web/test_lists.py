"""Every working list (feedback, PV queue, identity review, people, stakeholders) counts, pages,
filters, searches, sorts, and hands out a CSV of exactly what it filters; a search never finds
words the role may not read."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.auth.service import create_user
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.identity.models import MatchPair, SourceRecord
from cpxm.safety.screening import screen_items
from tests.auth.signing import signing_headers
from tests.factories import make_stakeholder, make_survey, make_taxonomy
from tests.safety.helpers import make_feedback

START = datetime(2026, 11, 2, 9, 0)


def _csv(response: object) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("text/csv")  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(response.text)))  # type: ignore[attr-defined]


def _feedback(session: Session) -> list[int]:
    patient = make_stakeholder(session, type="patient", display_name="Maria Keller")
    ids = []
    for number in range(60):
        item = make_feedback(
            session,
            f"Comment {number}: the nurse hotline was {'slow' if number % 4 == 0 else 'kind'}",
            received_at=START + timedelta(hours=number),
            stakeholder_id=patient.id if number == 8 else None,
        )
        session.add(
            FeedbackAnalysis(
                feedback_item_id=item.id,
                sentiment_label="negative" if number % 4 == 0 else "positive",
                sentiment_score=-0.5 if number % 4 == 0 else 0.6 + number / 1000,
                redacted_text=item.text,
                analysed_at=START,
            )
        )
        ids.append(item.id)
    session.commit()
    return ids


def _feedback_rows(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", page)]


def test_feedback_counts_pages_searches_sorts_and_exports_what_it_shows(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    ids = _feedback(session)
    lead = client_as("cx_lead")

    first = lead.get("/feedback")
    assert "<strong>60</strong> item(s); showing 1–50" in first.text
    assert _feedback_rows(first.text)[0] == ids[-1]  # newest first
    assert '?sort=newest&amp;offset=50"' in first.text  # the shared pager
    second = lead.get("/feedback", params={"offset": 50})
    assert len(_feedback_rows(second.text)) == 10

    oldest = lead.get("/feedback", params={"sort": "oldest"})
    assert _feedback_rows(oldest.text)[0] == ids[0]
    positive = lead.get("/feedback", params={"sort": "positive"})
    assert _feedback_rows(positive.text)[0] == ids[59]  # the highest score

    slow = lead.get("/feedback", params={"q": "SLOW", "sentiment": "negative"})
    assert "<strong>15</strong> item(s)." in slow.text
    exported = _csv(lead.get("/feedback/export.csv", params={"q": "slow", "sort": "oldest"}))
    assert [int(row["feedback_id"]) for row in exported] == ids[::4]
    assert exported[0]["text"].startswith("Comment 0:")
    assert 'href="/feedback/export.csv?q=SLOW&amp;sentiment=negative&amp;sort=newest"' in (
        slow.text
    )
    # An item number finds that item.
    assert _feedback_rows(lead.get("/feedback", params={"q": f"#{ids[5]}"}).text) == [ids[5]]

    assert lead.get("/feedback", params={"sort": "loudest"}).status_code == 400


def test_a_feedback_search_never_matches_words_the_role_may_not_read(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    ids = _feedback(session)
    # Item 8 is a patient's: a commercial role may not read it, so a search must not find it
    # (the match alone would tell what it says); a role that may read it finds it.
    commercial = client_as("commercial")
    assert ids[8] not in _feedback_rows(
        commercial.get("/feedback", params={"q": "Comment 8:"}).text
    )
    assert _csv(commercial.get("/feedback/export.csv", params={"q": "Comment 8:"})) == []
    listed = commercial.get("/feedback", params={"sort": "oldest"}).text
    assert ids[8] in _feedback_rows(listed)  # listed, its words withheld
    admin = client_as("admin")
    found = admin.get("/feedback", params={"q": "Comment 8:"}).text
    assert _feedback_rows(found) == [ids[8]]
    # The writer by name, linked to the profile, for a role that may see who they are; never
    # their name for one that may not.
    writer = session.scalar(select(FeedbackItem.stakeholder_id).where(FeedbackItem.id == ids[8]))
    assert f'<a href="/stakeholders/{writer}">Maria Keller</a>' in found
    assert "Maria Keller" not in listed and 'class="pseudonym"' in listed


def test_the_pv_queue_searches_filters_sorts_and_exports_without_marking_anything(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    texts = [
        "I had a seizure after the second injection of Cardiozan.",
        "My father had a rash after taking Cardiozan.",
        "The pen was broken when the box arrived, I could not inject.",
    ]
    cases = []
    for hour, text in enumerate(texts):
        item = make_feedback(session, text, received_at=START + timedelta(hours=hour))
        cases.extend(screen_items(session, items=[item], now=START + timedelta(hours=hour))[1])
    session.commit()
    pv = TestClient(app, headers=signing_headers(session_maker, "pv_officer")[0])

    queue = pv.get("/safety")
    assert queue.status_code == 200
    assert f"<strong>{len(cases)}</strong> case(s)" in queue.text
    newest = pv.get("/safety", params={"sort": "newest"})
    shown = [int(n) for n in re.findall(r'<td[^>]*><a href="/safety/cases/(\d+)">#', newest.text)]
    assert shown[0] == max(c.id for c in cases if c.aware_at == max(x.aware_at for x in cases))

    seizure = pv.get("/safety", params={"q": "seizure"})
    found = [int(n) for n in re.findall(r'<td[^>]*><a href="/safety/cases/(\d+)">#', seizure.text)]
    assert found and all("seizure" in next(c for c in cases if c.id == n).verbatim for n in found)
    by_number = pv.get("/safety", params={"q": f"#{cases[-1].id}"})
    assert f'href="/safety/cases/{cases[-1].id}"' in by_number.text

    exported = _csv(pv.get("/safety/export.csv", params={"q": "seizure"}))
    assert sorted(int(row["case_id"]) for row in exported) == sorted(found)
    everything = _csv(pv.get("/safety/export.csv", params={"status": "all"}))
    assert len(everything) == len(cases)
    for case in cases:
        session.refresh(case)
        assert case.exported_at is None  # a working list is not a hand-off
    assert pv.get("/safety", params={"sort": "random"}).status_code == 400
    commercial = TestClient(app, headers=signing_headers(session_maker, "commercial")[0])
    assert commercial.get("/safety/export.csv").status_code == 403


def test_the_pv_triage_list_searches_sorts_and_exports_what_it_filters(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    texts = [
        "No side effects at all with Cardiozan, which is a relief.",
        "If Cardiozan gives me a rash I will stop it.",
        "My neighbour had a seizure after taking Cardiozan.",
    ]
    for hour, text in enumerate(texts):
        item = make_feedback(session, text, received_at=START + timedelta(hours=hour))
        screen_items(session, items=[item], now=START + timedelta(hours=hour))
    session.commit()
    pv = TestClient(app, headers=signing_headers(session_maker, "pv_officer")[0])

    listed = pv.get("/safety/triage", params={"status": "all"})
    assert listed.status_code == 200
    entries = [int(n) for n in re.findall(r'<td class="nowrap">#(\d+)<br>', listed.text)]
    total = int(re.search(r"<strong>(\d+)</strong> entr", listed.text).group(1))  # type: ignore[union-attr]
    assert total == len(entries) >= 2
    oldest = pv.get("/safety/triage", params={"status": "all", "sort": "oldest"})
    assert [int(n) for n in re.findall(r'<td class="nowrap">#(\d+)<br>', oldest.text)] == list(
        reversed(entries)
    )
    rash = pv.get("/safety/triage", params={"status": "all", "q": "rash"})
    found = [int(n) for n in re.findall(r'<td class="nowrap">#(\d+)<br>', rash.text)]
    assert len(found) == 1 and "gives me a rash" in rash.text

    exported = _csv(pv.get("/safety/triage/export.csv", params={"status": "all", "q": "rash"}))
    assert [int(row["entry_id"]) for row in exported] == found
    assert exported[0]["reasons"] == "hypothetical" and "rash" in exported[0]["sentence"]
    everything = _csv(pv.get("/safety/triage/export.csv", params={"status": "all"}))
    assert [int(row["entry_id"]) for row in everything] == entries
    assert pv.get("/safety/triage", params={"sort": "size"}).status_code == 400
    commercial = TestClient(app, headers=signing_headers(session_maker, "commercial")[0])
    assert commercial.get("/safety/triage/export.csv").status_code == 403


def _pairs(session: Session) -> list[MatchPair]:
    pairs = []
    for number in range(25):
        records = []
        for system in ("crm", "events"):
            person = make_stakeholder(session, display_name=f"{system} {number}")
            record = SourceRecord(
                source_system=system,
                source_id=f"{system.upper()}-{number}",
                stakeholder_id=person.id,
                attributes={"type": "hcp", "last_name": "Schmidt" if number == 3 else "Weber"},
                imported_at=START,
            )
            session.add(record)
            session.flush()
            records.append(record)
        pair = MatchPair(
            record_low_id=records[0].id,
            record_high_id=records[1].id,
            match_probability=0.5 + number / 100,
            type_conflict="hcp vs patient" if number == 7 else None,
        )
        session.add(pair)
        pairs.append(pair)
    session.commit()
    return pairs


def test_identity_review_searches_filters_sorts_pages_and_exports(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    pairs = _pairs(session)
    admin = client_as("admin")
    first = admin.get("/identity/review")
    assert "<strong>25</strong> pair(s) waiting; showing 1–20" in first.text
    headings = re.findall(r"Pair (\d+): match probability", first.text)
    assert int(headings[0]) == pairs[-1].id  # most likely first
    unlikely = admin.get("/identity/review", params={"sort": "unlikely"})
    assert int(re.findall(r"Pair (\d+): match", unlikely.text)[0]) == pairs[0].id
    schmidt = admin.get("/identity/review", params={"q": "schmidt"})
    assert re.findall(r"Pair (\d+): match", schmidt.text) == [str(pairs[3].id)]
    by_source = admin.get("/identity/review", params={"q": "EVENTS-12"})
    assert re.findall(r"Pair (\d+): match", by_source.text) == [str(pairs[12].id)]
    conflicts = _csv(admin.get("/identity/review/export.csv", params={"conflicts": "true"}))
    assert [int(row["pair_id"]) for row in conflicts] == [pairs[7].id]
    every = _csv(admin.get("/identity/review/export.csv"))
    assert len(every) == 25 and every[0]["left_source_id"] == "CRM-24"


def test_people_are_searched_filtered_sorted_and_exported(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    for number in range(55):
        create_user(
            session,
            email=f"person{number:02d}@pharma.example",
            role="analyst" if number % 5 == 0 else "viewer",
        )
    session.commit()
    admin = client_as("admin")
    page = admin.get("/admin/users")
    assert page.status_code == 200
    assert re.search(r"<strong>5[67]</strong> people; showing 1–50", page.text)
    analysts = admin.get("/admin/users", params={"role": "analyst", "sort": "email"})
    emails = re.findall(r"<td>(person\d+@pharma\.example)</td>", analysts.text)
    assert emails == [f"person{n:02d}@pharma.example" for n in range(0, 55, 5)]
    exported = _csv(admin.get("/admin/users/export.csv", params={"q": "person1", "sort": "email"}))
    assert [row["email"] for row in exported] == [
        f"person{n}@pharma.example" for n in range(10, 20)
    ]
    # A new person's role is chosen, never admin by default.
    assert '<option value="" selected disabled>Choose a role</option>' in page.text
    assert admin.get("/admin/users", params={"role": "wizard"}).status_code == 400
    assert client_as("cx_lead").get("/admin/users/export.csv").status_code == 403


def test_stakeholders_are_filtered_by_country_sorted_and_exported_as_the_role_sees_them(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_taxonomy(session)
    names = ["Dr Anna Weber", "Dr Bernd Adler", "Dr Clara Zorn"]
    for name, country in zip(names, ["DE", "FR", "DE"], strict=True):
        make_stakeholder(session, display_name=name, country_code=country)
    make_stakeholder(session, type="patient", display_name="Maria Keller", country_code="DE")
    session.commit()
    lead = client_as("cx_lead")
    german = lead.get("/stakeholders", params={"country": "DE", "sort": "name"})
    assert "<strong>3</strong> golden record(s)" in german.text
    exported = _csv(lead.get("/stakeholders/export.csv", params={"country": "de"}))
    assert [row["name"] for row in exported] == ["Dr Anna Weber", "Dr Clara Zorn", "Maria Keller"]
    # A commercial role sees the patient under a pseudonym in the file too.
    commercial = _csv(client_as("commercial").get("/stakeholders/export.csv"))
    patient = next(row for row in commercial if row["type"] == "patient")
    assert patient["name"] != "Maria Keller" and patient["stakeholder_id"] == ""
    newest = lead.get("/stakeholders", params={"sort": "newest"})
    assert newest.text.index("Maria Keller") < newest.text.index("Dr Anna Weber")
    assert lead.get("/stakeholders", params={"country": "Germany"}).status_code in (400, 422)


def test_surveys_are_searched_sorted_and_exported_in_the_same_order(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    for name in ("Zeta pulse", "alpha relationship", "Mid-year site survey"):
        make_survey(session, name=name)
    session.commit()
    lead = client_as("cx_lead")
    page = lead.get("/surveys", params={"sort": "name"})
    assert page.status_code == 200
    assert "<strong>3</strong> survey(s)." in page.text
    names = re.findall(r'<a href="/surveys/\d+">([^<]+)</a>', page.text)
    assert names == ["alpha relationship", "Mid-year site survey", "Zeta pulse"]
    newest = re.findall(r'<a href="/surveys/\d+">([^<]+)</a>', lead.get("/surveys").text)
    assert newest == ["Mid-year site survey", "alpha relationship", "Zeta pulse"]
    exported = _csv(lead.get("/surveys/export.csv", params={"sort": "name", "q": "p"}))
    assert [row["name"] for row in exported] == ["alpha relationship", "Zeta pulse"]
    assert lead.get("/surveys", params={"sort": "size"}).status_code in (400, 422)


def test_a_search_is_a_record_number_only_when_the_store_could_hold_it(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    """A search of "#12" or "12" also finds record 12; digits too many for an id, or a digit
    that is not ASCII ("²"), are searched as text: never a 422 or a 500 for what was typed."""
    ids = _feedback(session)
    admin = client_as("admin")
    for q in (f"#{ids[3]}", str(ids[3])):
        assert ids[3] in _feedback_rows(admin.get("/feedback", params={"q": q}).text)
    for path in ("/feedback", "/feedback/export.csv", "/safety", "/safety/export.csv"):
        for q in ("#" + "9" * 40, "9" * 19, "²", "#²"):
            response = admin.get(path, params={"q": q})
            assert response.status_code == 200, (path, q, response.text[:300])
    for path in ("/safety/triage", "/safety/triage/export.csv", "/cases", "/cases/export.csv"):
        for q in ("#" + "9" * 40, "²", "#²"):
            response = admin.get(path, params={"q": q})
            assert response.status_code == 200, (path, q, response.text[:300])
    assert _feedback_rows(admin.get("/feedback", params={"q": "²"}).text) == []
