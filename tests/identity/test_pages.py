"""The review queue page: pairs side by side, accept / reject / undo through forms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.identity.models import MatchPair, MergeEvent, SourceRecord
from cpxm.workspace.models import AuditLogEntry
from tests.factories import make_stakeholder


def _record(session: Session, system: str, source_id: str, **attributes: str) -> SourceRecord:
    stakeholder = make_stakeholder(session, display_name=source_id)
    record = SourceRecord(
        source_system=system,
        source_id=source_id,
        stakeholder_id=stakeholder.id,
        attributes={"type": "hcp", **attributes},
        imported_at=datetime(2026, 1, 1),
    )
    session.add(record)
    session.flush()
    return record


def _pair(session: Session) -> tuple[MatchPair, SourceRecord, SourceRecord]:
    left = _record(
        session, "crm", "CRM-1", first_name="Anna", last_name="Müller", phone="+49 30 1234567"
    )
    right = _record(
        session,
        "events",
        "REG-9",
        first_name="Anna",
        last_name="Mueller",
        phone="030 1234567",
        email="anna@example.org",
        city="Berlin",
    )
    low, high = sorted((left, right), key=lambda record: record.id)
    pair = MatchPair(record_low_id=low.id, record_high_id=high.id, match_probability=0.73)
    session.add(pair)
    session.flush()
    return pair, low, high


def test_page_shows_both_records_with_agreeing_and_differing_fields(
    session: Session, client: TestClient
) -> None:
    pair, _, _ = _pair(session)
    page = client.get("/identity/review")
    assert page.status_code == 200
    html = page.text
    assert f"Pair {pair.id}: match probability 0.730" in html
    assert "crm · CRM-1" in html and "events · REG-9" in html
    # Müller / Mueller and the two phone formats agree once normalised; e-mail is one-sided.
    assert html.count('class="verdict-agree"') == 4  # type, first name, last name, phone
    assert "one side unknown" in html
    assert f'action="/identity/review/{pair.id}/accept?offset=0"' in html
    assert 'href="/identity/review"' in html  # the navigation links the page


def test_accept_merges_audits_and_undo_separates_again(
    session: Session, client: TestClient
) -> None:
    pair, low, high = _pair(session)
    accepted = client.post(f"/identity/review/{pair.id}/accept", follow_redirects=False)
    assert accepted.status_code == 303 and "accepted" in accepted.headers["location"]
    session.refresh(low)
    session.refresh(high)
    assert low.stakeholder_id == high.stakeholder_id
    session.refresh(pair)
    assert pair.status == "accepted"
    decided_by = session.scalar(
        select(AuditLogEntry.user_id).where(
            AuditLogEntry.action == "accept", AuditLogEntry.entity_id == str(pair.id)
        )
    )
    assert decided_by is not None
    merge_id = session.scalar(select(MergeEvent.id).where(MergeEvent.match_pair_id == pair.id))
    page = client.get("/identity/review").text
    assert f'action="/identity/merges/{merge_id}/undo"' in page
    undone = client.post(f"/identity/merges/{merge_id}/undo", follow_redirects=False)
    assert undone.status_code == 303
    session.refresh(low)
    session.refresh(high)
    assert low.stakeholder_id != high.stakeholder_id
    # Deciding the same pair again is refused with a message, not an error page.
    again = client.post(f"/identity/review/{pair.id}/reject", follow_redirects=False)
    assert again.status_code == 303 and "already" in again.headers["location"]


def test_reject_keeps_the_pair_apart(session: Session, client: TestClient) -> None:
    pair, low, high = _pair(session)
    rejected = client.post(f"/identity/review/{pair.id}/reject", follow_redirects=False)
    assert rejected.status_code == 303
    session.refresh(pair)
    assert pair.status == "rejected"
    session.refresh(low)
    session.refresh(high)
    assert low.stakeholder_id != high.stakeholder_id
    assert client.get("/identity/review").text.count("Reject: different people") == 0


def test_only_data_stewards_see_or_decide(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    pair, _, _ = _pair(session)
    commercial = client_as("commercial")
    assert commercial.get("/identity/review").status_code == 403
    assert commercial.post(f"/identity/review/{pair.id}/accept").status_code == 403
    session.refresh(pair)
    assert pair.status == "pending"
