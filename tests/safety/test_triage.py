"""Issue 18 item 2: every safety mention that opens no case is on PV's triage list."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.errors import DomainError, NotFoundError
from cpxm.feedback.models import FeedbackItem
from cpxm.migrate import alembic_config, upgrade_database
from cpxm.safety import intake, service, triage
from cpxm.safety.models import TRIAGE_REASONS, SafetyCase, SafetyCaseEvent, SafetyTriageItem
from cpxm.safety.screening import screen_items
from cpxm.text.safety import NOT_REPORTABLE_REASONS
from cpxm.workspace.models import AuditLogEntry
from tests.conftest import bearer_headers, url_of
from tests.factories import make_taxonomy
from tests.safety.helpers import make_feedback
from tests.served import cpxm_command

NOW = datetime(2026, 11, 23, 12, 0)
NEGATED = "No side effects at all with Immuny, which is a relief."
HYPOTHETICAL = "If Oncox gives me a rash I will stop it."
AFFIRMED = "I had a seizure after the second injection of Immuny."


def _screen(session: Session, *texts: str, **kwargs: object) -> list[FeedbackItem]:
    items = [make_feedback(session, text, **kwargs) for text in texts]  # type: ignore[arg-type]
    screen_items(session, items=items, now=NOW)
    return items


def test_what_opens_no_case_is_listed_with_sentence_and_reason(session: Session) -> None:
    make_taxonomy(session)
    negated, hypothetical, affirmed = _screen(session, NEGATED, HYPOTHETICAL, AFFIRMED)

    entries, total = triage.list_triage(session)

    assert total == 2
    by_item = {entry.feedback_item_id: entry for entry in entries}
    assert set(by_item) == {negated.id, hypothetical.id}  # the affirmed AE opened a case instead
    assert by_item[negated.id].reason == "negated"
    assert by_item[negated.id].sentence.startswith("No side effects")
    assert by_item[negated.id].product_code == "immu_y"
    assert by_item[hypothetical.id].reason == "hypothetical"
    assert by_item[hypothetical.id].status == "pending"
    assert session.scalar(select(SafetyCase.id).where(SafetyCase.feedback_item_id == affirmed.id))


def test_filters_and_pages_keep_the_total(session: Session) -> None:
    make_taxonomy(session)
    _screen(session, NEGATED, HYPOTHETICAL, source_kind="call_note")
    _screen(session, NEGATED, received_at=datetime(2026, 10, 1, 9, 0))

    def total(**filters: object) -> int:
        return triage.list_triage(session, triage_filter=triage.TriageFilter(**filters))[1]  # type: ignore[arg-type]

    assert total() == 3
    assert total(reason="negated") == 2
    assert total(reason="hypothetical", product_code="onco_x") == 1
    assert total(source_kind="call_note") == 2
    assert total(received_to=datetime(2026, 11, 1)) == 1
    assert total(received_from=datetime(2026, 11, 1), reason="negated") == 1
    page, all_of_them = triage.list_triage(session, limit=2, offset=2)
    assert all_of_them == 3 and len(page) == 1
    with pytest.raises(DomainError, match="reason is 'maybe'"):
        total(reason="maybe")


def test_dismiss_needs_a_reason_and_happens_once(session: Session) -> None:
    make_taxonomy(session)
    _screen(session, NEGATED)
    (entry,), _ = triage.list_triage(session)

    with pytest.raises(DomainError, match="say why"):
        triage.dismiss(session, triage_id=entry.id, user_id=None, reason="  ")
    dismissed = triage.dismiss(
        session, triage_id=entry.id, user_id=None, reason="patient says no side effects", now=NOW
    )

    assert dismissed.status == "dismissed" and dismissed.resolved_at == NOW
    assert dismissed.resolution_note == "patient says no side effects"
    assert triage.list_triage(session)[1] == 0
    assert triage.list_triage(session, triage_filter=triage.TriageFilter(status=None))[1] == 1
    with pytest.raises(triage.TriageStateError):
        triage.dismiss(session, triage_id=entry.id, user_id=None, reason="again")


def test_open_case_from_triage_runs_the_clock_from_arrival(session: Session) -> None:
    make_taxonomy(session)
    (item,) = _screen(session, HYPOTHETICAL)
    (entry,), _ = triage.list_triage(session)

    case = intake.open_case_from_triage(
        session, triage_id=entry.id, user_id=None, reason="patient already has the rash"
    )

    assert case.origin == "pv" and case.kind == entry.kind
    assert case.aware_at == item.received_at  # awareness is arrival, not PV's decision
    assert case.event_terms and case.context == "hypothetical"
    assert entry.status == "case_opened" and entry.case_id == case.id
    (opened,) = session.scalars(select(SafetyCaseEvent).where(SafetyCaseEvent.case_id == case.id))
    assert opened.details and opened.details["by_hand"] is True
    assert opened.details["triage_id"] == entry.id
    with pytest.raises(triage.TriageStateError):
        intake.open_case_from_triage(session, triage_id=entry.id, user_id=None, reason="x")


def test_a_case_can_be_opened_by_hand_from_any_feedback_item(session: Session) -> None:
    make_taxonomy(session)
    (item,) = _screen(session, "The nurse was lovely and the clinic ran on time.")
    assert triage.list_triage(session)[1] == 0  # nothing detected, nothing to triage

    case = intake.open_case_by_hand(
        session,
        feedback_item_id=item.id,
        kind="pc",
        user_id=None,
        reason="caller said the pen leaked",
    )

    assert case.kind == "pc" and case.subtypes == ["quality_defect"] and case.origin == "pv"
    with pytest.raises(service.CaseStateError, match="already has pc case"):
        intake.open_case_by_hand(
            session, feedback_item_id=item.id, kind="pc", user_id=None, reason="twice"
        )
    with pytest.raises(NotFoundError):
        intake.open_case_by_hand(
            session, feedback_item_id=item.id + 999, kind="ae", user_id=None, reason="x"
        )
    with pytest.raises(DomainError, match="kind is 'xx'"):
        intake.open_case_by_hand(
            session, feedback_item_id=item.id, kind="xx", user_id=None, reason="x"
        )


def test_triage_through_the_api_is_audited_and_pv_only(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    negated, hypothetical = _screen(session, NEGATED, HYPOTHETICAL)
    plain = make_feedback(session, "Thanks for the call back.")
    session.commit()
    pv = client_as("pv_officer")

    listed = pv.get("/api/v1/safety/triage", params={"reason": "negated", "limit": 10})
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 1 and body["limit"] == 10
    (entry,) = body["items"]
    assert entry["feedback_item_id"] == negated.id and entry["sentence"].startswith("No side")

    assert pv.post(f"/api/v1/safety/triage/{entry['id']}/dismiss", json={}).status_code == 422
    dismissed = pv.post(
        f"/api/v1/safety/triage/{entry['id']}/dismiss", json={"reason": "truly no effects"}
    )
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    again = pv.post(f"/api/v1/safety/triage/{entry['id']}/dismiss", json={"reason": "x"})
    assert again.status_code == 409

    other = pv.get("/api/v1/safety/triage").json()["items"][0]
    assert other["feedback_item_id"] == hypothetical.id
    opened = pv.post(
        f"/api/v1/safety/triage/{other['id']}/open-case", json={"reason": "it happened"}
    )
    assert opened.status_code == 201 and opened.json()["origin"] == "pv"
    by_hand = pv.post(
        f"/api/v1/safety/feedback/{plain.id}/cases", json={"kind": "ae", "reason": "on the call"}
    )
    assert by_hand.status_code == 201
    assert (
        pv.post(
            f"/api/v1/safety/feedback/{plain.id}/cases", json={"kind": "ae", "reason": "again"}
        ).status_code
        == 409
    )

    audited = session.scalars(
        select(AuditLogEntry).where(
            AuditLogEntry.entity_type == "safety_triage",
            AuditLogEntry.entity_id == str(entry["id"]),
        )
    ).all()
    assert audited and audited[-1].user_id is not None
    for role in ("commercial", "analyst", "cx_lead"):
        assert client_as(role).get("/api/v1/safety/triage").status_code == 403, role


def test_triage_page_lists_and_decides(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    _screen(session, NEGATED, HYPOTHETICAL)
    session.commit()
    pv = client_as("pv_officer")

    page = pv.get("/safety/triage", params={"reason": "hypothetical"})
    assert page.status_code == 200
    assert "If Oncox gives me a rash" in page.text and "No side effects" not in page.text
    (entry,), _ = triage.list_triage(
        session, triage_filter=triage.TriageFilter(reason="hypothetical")
    )
    refused = pv.post(
        f"/safety/triage/{entry.id}/decision",
        data={"action": "dismiss", "reason": " ", "back": "?reason=hypothetical"},
        follow_redirects=False,
    )
    assert refused.status_code == 303 and "error=" in refused.headers["location"]
    decided = pv.post(
        f"/safety/triage/{entry.id}/decision",
        data={"action": "open_case", "reason": "real rash", "back": "?reason=hypothetical"},
    )
    assert decided.status_code == 200 and "opened from entry" in decided.text
    session.expire_all()
    assert triage.get_triage_item(session, entry.id).status == "case_opened"
    queue = pv.get("/safety")
    assert "1</strong> safety mention(s)" in queue.text  # the negated one still waits


def test_the_cli_lists_dismisses_and_opens(store_engine: Engine, tmp_path: Path) -> None:
    with sessionmaker(bind=store_engine)() as session:
        make_taxonomy(session)
        items = [make_feedback(session, text) for text in (NEGATED, HYPOTHETICAL, "All fine.")]
        plain_id = items[2].id
        session.commit()
    token = bearer_headers(sessionmaker(bind=store_engine), "pv_officer")["Authorization"][7:]
    environment = {**os.environ, "CPXM_DATABASE_URL": url_of(store_engine), "CPXM_TOKEN": token}

    def cpxm(*arguments: str) -> str:
        done = cpxm_command(*arguments, environment=environment, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())

    cpxm("analyze")
    listed = cpxm("safety", "triage", "--reason", "negated")
    assert "1 triage entr(ies)" in listed and "No side effects" in listed
    with sessionmaker(bind=store_engine)() as session:
        negated, hypothetical = (
            triage.list_triage(session, triage_filter=triage.TriageFilter(reason=reason))[0][0].id
            for reason in ("negated", "hypothetical")
        )
    assert "dismissed" in cpxm("safety", "dismiss", str(negated), "--reason", "no effects")
    assert "opened" in cpxm("safety", "open-case", "--triage", str(hypothetical), "--reason", "r")
    assert "opened" in cpxm(
        "safety", "open-case", "--feedback", str(plain_id), "--kind", "srs", "--reason", "off-label"
    )
    refused = cpxm_command(
        "safety",
        "dismiss",
        str(negated),
        "--reason",
        "again",
        environment=environment,
        cwd=tmp_path,
    )
    assert refused.returncode == 1 and "already dismissed" in refused.stderr
    assert "0 triage entr(ies)" in cpxm("safety", "triage")


TREATED = "Immuny really relieves my anxiety."


def test_the_treated_condition_is_its_own_reason_end_to_end(
    session: Session, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    (treated,) = _screen(session, TREATED)
    session.commit()

    (entry,), total = triage.list_triage(
        session, triage_filter=triage.TriageFilter(reason="treated_condition")
    )
    assert total == 1 and entry.feedback_item_id == treated.id
    assert entry.reason == "treated_condition" and entry.reasons == ["treated_condition"]
    assert triage.list_triage(
        session, triage_filter=triage.TriageFilter(reason="low_confidence")
    ) == ([], 0)

    pv = client_as("pv_officer")
    listed = pv.get("/api/v1/safety/triage", params={"reason": "treated_condition"})
    assert listed.status_code == 200, listed.text
    assert [item["reason"] for item in listed.json()["items"]] == ["treated_condition"]
    page = pv.get("/safety/triage", params={"reason": "treated_condition"})
    assert page.status_code == 200
    assert "relieves my anxiety" in page.text
    assert '<option value="treated_condition" selected>' in page.text


def test_the_migration_relabels_entries_stored_as_low_confidence(store_engine: Engine) -> None:
    with sessionmaker(bind=store_engine)() as session:
        make_taxonomy(session)
        (item,) = _screen(session, TREATED)
        entry = session.scalars(select(SafetyTriageItem)).one()
        session.commit()
        assert entry.feedback_item_id == item.id
        entry_id = entry.id

    def stored() -> tuple[str, list[str]]:
        with sessionmaker(bind=store_engine)() as session:
            row = session.get_one(SafetyTriageItem, entry_id)
            return row.reason, row.reasons

    assert stored() == ("treated_condition", ["treated_condition"])
    config = alembic_config(store_engine)
    with store_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0030")
    assert stored() == ("low_confidence", ["low_confidence"])  # as the older code stored it
    upgrade_database(store_engine)
    assert stored() == ("treated_condition", ["treated_condition"])


def test_every_reason_the_detector_gives_is_a_triage_reason() -> None:
    assert TRIAGE_REASONS == NOT_REPORTABLE_REASONS


def test_the_list_is_searched_and_sorted(session: Session) -> None:
    make_taxonomy(session)
    negated, hypothetical = _screen(session, NEGATED, HYPOTHETICAL)
    (older,) = _screen(session, NEGATED, received_at=datetime(2026, 10, 1, 9, 0))

    def found(q: str, sort: str = "newest") -> list[int]:
        entries, total = triage.list_triage(
            session, triage_filter=triage.TriageFilter(q=q), sort=sort
        )
        assert total == len(entries)
        return [entry.feedback_item_id for entry in entries]

    assert found("RASH") == [hypothetical.id]  # the sentence, case blind
    assert found("immu_y", sort="oldest") == [older.id, negated.id]  # the product code
    assert found("immu_y") == [negated.id, older.id]
    assert found(f"#{older.id}") == [older.id]  # a feedback number
    assert found("seizure") == []
    by_product = triage.list_triage(session, sort="product")[0]
    assert [entry.product_code for entry in by_product] == ["immu_y", "immu_y", "onco_x"]
    with pytest.raises(DomainError, match="sort is 'size'"):
        triage.list_triage(session, sort="size")
