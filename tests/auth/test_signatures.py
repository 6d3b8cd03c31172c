"""Electronic signatures (21 CFR Part 11, Annex 11) on PV decisions and governance changes:
password re-entered, meaning and reason stated, bound to the record's state, append-only,
shown in the record's history, and required by the API, the page form and the CLI."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cpxm.auth.models import ElectronicSignature
from cpxm.auth.service import create_api_token
from cpxm.auth.signatures import state_hash
from cpxm.db import make_engine
from cpxm.migrate import upgrade_database
from cpxm.safety import service
from cpxm.safety.models import SafetyCase, SafetyCaseEvent
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry, User
from tests.auth.signing import PASSWORD, signature, signer, signing_headers, signing_user
from tests.factories import make_taxonomy
from tests.safety.helpers import make_feedback
from tests.served import CPXM, cpxm_command

VERBATIM = "My pen leaked and I got a rash after the injection."


def _case(session: Session, kind: str = "ae") -> SafetyCase:
    item = make_feedback(session, VERBATIM, received_at=datetime(2026, 11, 23, 9, 0))
    case = SafetyCase(
        feedback_item_id=item.id,
        kind=kind,
        subtypes=["adverse_event"],
        verbatim=VERBATIM,
        product_code=None,
        product_written="pen",
        event_terms=["rash"],
        context="affirmed",
        mentions=[],
        has_patient=True,
        has_reporter=False,
        has_product=True,
        has_event=True,
        source_kind="survey_comment",
        aware_at=datetime(2026, 11, 23, 9, 0),
        due_at=datetime(2026, 11, 24, 9, 0),
        created_at=datetime(2026, 11, 23, 9, 5),
        status="open",
        escalation_level=0,
    )
    session.add(case)
    session.commit()
    return case


def _officer(app: FastAPI, maker: sessionmaker[Session]) -> tuple[TestClient, int]:
    headers, user_id = signing_headers(maker, "pv_officer")
    return TestClient(app, headers=headers), user_id


def test_a_confirmation_is_signed_and_bound_to_the_case(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    case = _case(session)
    pv, officer_id = _officer(app, session_maker)

    confirmed = pv.post(
        f"/api/v1/safety/cases/{case.id}/confirm",
        json=signature(meaning="confirmed as adverse event", reason="rash after injection"),
    )

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["decision_note"] == "rash after injection"
    detail = pv.get(f"/api/v1/safety/cases/{case.id}").json()
    (signed,) = detail["signatures"]
    user = session.get(User, officer_id)
    assert user is not None
    assert signed["signer_email"] == user.email and signed["signer_name"] == "Dr Pv Officer"
    assert (signed["action"], signed["meaning"], signed["reason"]) == (
        "confirm",
        "confirmed as adverse event",
        "rash after injection",
    )
    assert (signed["record_kind"], signed["record_id"]) == ("safety_cases", str(case.id))
    assert signed["signed_at"].endswith("Z") or signed["signed_at"].endswith("+00:00")
    assert signed["record_unchanged"] is True and len(signed["record_hash"]) == 64
    events = {event["event_type"]: event for event in detail["events"]}
    assert events["confirmed"]["details"]["signature_id"] == signed["id"]
    audited = session.scalars(
        select(AuditLogEntry).where(
            AuditLogEntry.action == "sign", AuditLogEntry.entity_id == str(case.id)
        )
    ).all()
    assert [entry.user_id for entry in audited] == [officer_id]

    # The hash is of the case as decided: editing the verbatim afterwards shows on the record.
    session.execute(update(SafetyCase).where(SafetyCase.id == case.id).values(verbatim="edited"))
    session.commit()
    again = pv.get(f"/api/v1/safety/cases/{case.id}").json()["signatures"][0]
    assert again["record_unchanged"] is False


def test_a_wrong_password_is_refused_audited_and_counts_toward_the_lockout(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    case = _case(session)
    pv, officer_id = _officer(app, session_maker)
    path = f"/api/v1/safety/cases/{case.id}/confirm"

    refused = pv.post(path, json=signature(password="not-my-password-at-all"))

    assert refused.status_code == 403 and "password is wrong" in refused.text
    session.expire_all()
    assert session.get(SafetyCase, case.id).status == "open"  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(ElectronicSignature)) == 0
    failures = session.scalars(
        select(AuditLogEntry.user_id).where(AuditLogEntry.action == "signature_failed")
    ).all()
    assert failures == [officer_id]
    user = session.get(User, officer_id)
    assert user is not None and user.failed_sign_ins == 1
    for _ in range(3):
        assert pv.post(path, json=signature(password="still-wrong-password")).status_code == 403
    # The fifth failure locks the account here, as at sign-in: even the right password cannot
    # sign now.
    assert pv.post(path, json=signature(password="still-wrong-password")).status_code == 429
    locked = pv.post(path, json=signature())
    assert locked.status_code == 429, locked.text
    session.expire_all()
    assert session.get(SafetyCase, case.id).status == "open"  # type: ignore[union-attr]


def test_a_signature_needs_meaning_and_reason(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    case = _case(session)
    pv, _ = _officer(app, session_maker)
    for missing in ({"meaning": "  "}, {"reason": ""}):
        answer = pv.post(f"/api/v1/safety/cases/{case.id}/reject", json={**signature(), **missing})
        # Refused in the API's validation shape, naming the field that says nothing.
        assert answer.status_code == 422, answer.text
        assert [error["loc"] for error in answer.json()["detail"]] == [["body", *missing]]
    unsigned = pv.post(f"/api/v1/safety/cases/{case.id}/reject", json={"note": "old style"})
    assert unsigned.status_code == 422
    session.expire_all()
    assert session.get(SafetyCase, case.id).status == "open"  # type: ignore[union-attr]


def test_reclassify_is_signed_and_refuses_a_duplicate_kind(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    case = _case(session)
    pv, _ = _officer(app, session_maker)

    moved = pv.post(
        f"/api/v1/safety/cases/{case.id}/reclassify",
        json=signature(meaning="reclassified as product complaint", reason="no harm", kind="pc"),
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["kind"] == "pc"
    detail = pv.get(f"/api/v1/safety/cases/{case.id}").json()
    assert [s["action"] for s in detail["signatures"]] == ["reclassify"]
    reclassified = [e for e in detail["events"] if e["event_type"] == "reclassified"]
    assert reclassified[0]["details"]["from"] == "ae" and reclassified[0]["details"]["to"] == "pc"
    # Another case of the same item as an adverse event: moving it to pc would duplicate.
    twin = SafetyCase(
        **{
            column: getattr(case, column)
            for column in ("feedback_item_id", "subtypes", "verbatim", "event_terms", "context")
        },
        kind="ae",
        mentions=[],
        has_patient=True,
        has_reporter=False,
        has_product=True,
        has_event=True,
        source_kind="survey_comment",
        aware_at=case.aware_at,
        due_at=case.due_at,
        created_at=case.created_at,
        status="open",
        escalation_level=0,
    )
    session.add(twin)
    session.commit()
    clash = pv.post(
        f"/api/v1/safety/cases/{twin.id}/reclassify",
        json=signature(meaning="reclassified", reason="x", kind="pc"),
    )
    assert clash.status_code == 409 and f"case {case.id}" in clash.text


def test_signatures_cannot_be_changed_or_deleted_through_the_store(session: Session) -> None:
    officer = signing_user(session, "pv_officer")
    case = _case(session)

    service.decide(
        session, case_id=case.id, decision="rejected", signer=signer(session, officer, reason="x")
    )
    signature_id = session.scalar(select(ElectronicSignature.id))
    for attempt in (
        update(ElectronicSignature).values(reason="rewritten"),
        update(ElectronicSignature).values(record_hash=state_hash({})),
        delete(ElectronicSignature).where(ElectronicSignature.id == signature_id),
        delete(ElectronicSignature),
    ):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(attempt)
    session.expire_all()
    kept = session.get(ElectronicSignature, signature_id)
    assert kept is not None and kept.reason == "x"


def test_the_page_form_asks_for_the_signature(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    case = _case(session)
    pv, _ = _officer(app, session_maker)
    page = pv.get(f"/safety/cases/{case.id}")
    assert 'name="password"' in page.text and 'name="meaning"' in page.text
    assert "Not signed yet." in page.text

    wrong = pv.post(
        f"/safety/cases/{case.id}/decision",
        data={"action": "confirm", **signature(password="wrong-password-here")},
        follow_redirects=True,
    )
    assert "password is wrong" in wrong.text
    session.expire_all()
    assert session.get(SafetyCase, case.id).status == "open"  # type: ignore[union-attr]

    signed = pv.post(
        f"/safety/cases/{case.id}/decision",
        data={"action": "confirm", **signature(reason="four elements present")},
        follow_redirects=True,
    )
    assert signed.status_code == 200
    assert "four elements present" in signed.text and "unchanged since" in signed.text
    session.expire_all()
    assert session.get(SafetyCase, case.id).status == "confirmed"  # type: ignore[union-attr]


def test_governance_changes_are_signed_on_the_page_and_listed(
    session: Session, app: FastAPI, session_maker: sessionmaker[Session]
) -> None:
    make_taxonomy(session)
    session.commit()
    headers, lead_id = signing_headers(session_maker, "cx_lead")
    lead = TestClient(app, headers=headers)
    matrix = f"raci:\n  - activity: complaint\n    responsible: user:{_email(session, lead_id)}\n"

    unsigned = lead.post("/governance", data={"yaml_text": matrix})
    assert unsigned.status_code == 422 and "not signed" in unsigned.text
    saved = lead.post(
        "/governance",
        data={"yaml_text": matrix, **signature(meaning="approved", reason="complaints to lead")},
        follow_redirects=True,
    )
    assert saved.status_code == 200 and "complaints to lead" in saved.text
    assert "in force" in saved.text
    listed = lead.get("/api/v1/governance/raci").json()["signatures"]
    assert [(s["meaning"], s["record_unchanged"]) for s in listed] == [("approved", True)]
    wrong = lead.put(
        "/api/v1/governance/raci",
        json=signature(password="wrong-password-here", yaml="raci: []\n"),
    )
    assert wrong.status_code == 403
    assert lead.get("/api/v1/governance/raci").json()["rows"]  # the matrix did not change


def _email(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    assert user is not None
    return user.email


def test_the_cli_signs_as_the_token_user_with_the_password_on_stdin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cpxm.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    with Session(engine) as session:
        officer = signing_user(session, "pv_officer", email="pv@sign.example")
        token = create_api_token(session, user=officer).token
        case_id = _case(session).id
    engine.dispose()
    environment = {**os.environ, "CPXM_DATABASE_URL": url, "CPXM_TOKEN": token}

    def cpxm(*arguments: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CPXM, *arguments],
            env=environment,
            cwd=tmp_path,
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    signed = ["--meaning", "confirmed as adverse event", "--reason", "rash", "--password-stdin"]
    wrong = cpxm("safety", "confirm", str(case_id), *signed, password="guessing-wrong")
    assert wrong.returncode == 1 and "password is wrong" in wrong.stderr
    confirmed = cpxm("safety", "confirm", str(case_id), *signed, password=PASSWORD)
    assert confirmed.returncode == 0, confirmed.stderr
    shown = cpxm_command("safety", "show", str(case_id), environment=environment, cwd=tmp_path)
    assert "signed" in shown.stdout and "by Dr Pv Officer <pv@sign.example>" in shown.stdout
    assert "meaning 'confirmed as adverse event'" in shown.stdout
    with Session(make_engine(url)) as session:
        failed = session.scalar(
            select(func.count())
            .select_from(AuditLogEntry)
            .where(AuditLogEntry.action == "signature_failed")
        )
        assert failed == 1
        read = session.scalar(
            select(AuditLogEntry.details).where(
                AuditLogEntry.action == "read", AuditLogEntry.entity_type == "safety_cases"
            )
        )
        assert read is not None and read["via"] == "cpxm safety show"  # the CLI read is audited
        decided = session.scalar(
            select(SafetyCaseEvent.details).where(SafetyCaseEvent.event_type == "confirmed")
        )
        assert decided is not None and decided["meaning"] == "confirmed as adverse event"
        recent = session.scalar(select(ElectronicSignature.signed_at))
        assert recent is not None and utc_now() - recent < timedelta(minutes=5)
