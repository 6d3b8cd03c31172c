"""POST /imports, POST /events and the quarantine routes, on an app over a committing store.

File imports commit batch by batch on the app's engine, so these tests build the app on
``store_engine`` rather than on the rolled-back ``client`` transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.app import create_app
from cpxm.ingest.models import ImportRun
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from tests.conftest import bearer_headers, url_of
from tests.factories import make_stakeholder, make_taxonomy

ACCOUNTS = (Path(__file__).parents[2] / "docs" / "examples" / "crm_accounts.csv").read_bytes()


@pytest.fixture
def api(store_engine: Engine) -> Iterator[TestClient]:
    with Session(store_engine) as session:
        make_taxonomy(session)  # countries DE and FR: ACC-003 and ACC-004 cannot be stored
        session.commit()
    headers = bearer_headers(sessionmaker(bind=store_engine), "admin")
    with TestClient(create_app(engine=store_engine), headers=headers) as client:
        yield client


def _upload(
    api: TestClient,
    content: bytes = ACCOUNTS,
    *,
    name: str = "crm_accounts.csv",
    content_type: str = "text/csv",
    **form: str,
) -> Any:
    data = {"mapping": "crm-accounts", **form}
    return api.post("/api/v1/imports", files={"file": (name, content, content_type)}, data=data)


def _count(engine: Engine, model: type[Any]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_upload_imports_through_a_template_and_the_run_keeps_its_counts(
    api: TestClient, store_engine: Engine
) -> None:
    answer = _upload(api)
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert {k: report[k] for k in ("read", "created", "updated", "unchanged", "quarantined")} == {
        "read": 4,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 2,
    }
    run = api.get(f"/api/v1/imports/{report['run_id']}").json()
    assert (run["status"], run["file_name"], run["mapping_name"], run["target"]) == (
        "completed",
        "crm_accounts.csv",
        "crm-accounts",
        "stakeholders",
    )
    assert (run["read"], run["created"], run["quarantined"]) == (4, 2, 2)

    again = _upload(api).json()
    assert (again["created"], again["unchanged"], again["quarantined"]) == (0, 2, 2)
    assert _count(store_engine, Stakeholder) == 2
    runs = api.get("/api/v1/imports", params={"limit": 1}).json()
    assert (runs["total"], runs["limit"], [r["id"] for r in runs["items"]]) == (
        2,
        1,
        [again["run_id"]],
    )


def test_upload_with_mapping_text_and_dry_run_stores_nothing(
    api: TestClient, store_engine: Engine
) -> None:
    mapping_yaml = (
        "source_system: crm\ntarget: stakeholders\nsource_id: account_id\n"
        "fields:\n  type: {value: hcp}\n  last_name: last_name\n"
    )
    answer = api.post(
        "/api/v1/imports",
        files={"file": ("accounts.csv", ACCOUNTS, "text/csv")},
        data={"mapping_yaml": mapping_yaml, "dry_run": "true"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json() | {"read": 4, "created": 4} == answer.json()
    assert (answer.json()["run_id"], answer.json()["dry_run"]) == (None, True)
    assert _count(store_engine, Stakeholder) == 0
    assert _count(store_engine, ImportRun) == 0


def test_upload_named_only_by_content_type_is_imported(api: TestClient) -> None:
    answer = _upload(api, name="blob", content_type="text/csv")
    assert answer.status_code == 201, answer.text
    assert answer.json()["created"] == 2


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"mapping": "crm-acounts"}, "'crm-acounts' is not a mapping template; templates: "),
        # A mapping name is never a path: the server's files stay unread.
        ({"mapping": "../../../pyproject.toml"}, "is not a mapping template"),
        (
            {"mapping_yaml": "source_system: crm\ntarget: calls\nsource_id: id\nfields: {}"},
            "target 'calls' is not one of",
        ),
        ({"mapping_yaml": "fields: [unclosed"}, "mapping_yaml is not valid YAML"),
        ({"mapping": "crm-accounts", "mapping_yaml": "x: 1"}, "give exactly one of"),
    ],
)
def test_bad_mapping_answers_422_with_the_reason(
    api: TestClient, form: dict[str, str], message: str
) -> None:
    files = {"file": ("accounts.csv", ACCOUNTS, "text/csv")}
    answer = api.post("/api/v1/imports", files=files, data=form)
    assert answer.status_code == 422
    assert message in answer.json()["detail"]


def test_wrong_content_type_answers_415(api: TestClient, store_engine: Engine) -> None:
    as_json = api.post("/api/v1/imports", json={"mapping": "crm-accounts"})
    assert as_json.status_code == 415
    assert "multipart/form-data" in as_json.json()["detail"]
    pdf = _upload(api, b"%PDF-1.7", name="accounts.pdf", content_type="application/pdf")
    assert pdf.status_code == 415
    assert pdf.json()["detail"].startswith("cannot import 'accounts.pdf' (application/pdf)")
    assert _count(store_engine, ImportRun) == 0


def test_unreadable_file_answers_422_with_the_readers_message(api: TestClient) -> None:
    broken = _upload(api, b"PK\x03\x04 not really a workbook", name="accounts.xlsx")
    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("accounts.xlsx is not a readable .xlsx workbook")
    wrong_columns = _upload(api, b"id;name\n1;x\n")
    assert wrong_columns.status_code == 422
    assert "crm_accounts.csv has no column 'account_id'" in wrong_columns.json()["detail"]


def test_oversized_upload_is_refused_with_413(
    api: TestClient, store_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_MAX_UPLOAD_MB", "0.01")  # 10 KiB
    big = ACCOUNTS + b"ACC-9;Physician;A;B;;;;;;;;;DE;de\n" * 400
    declared = _upload(api, big)
    assert declared.status_code == 413
    assert "larger than 0.01 MB" in declared.json()["detail"]

    # Without a Content-Length the body is counted as it streams.
    boundary = "cpxm-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="mapping"\r\n\r\n'
            "crm-accounts\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{boundary}--\r\n".encode()
    )
    chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
    streamed = api.post(
        "/api/v1/imports",
        content=chunks,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert streamed.status_code == 413
    assert _count(store_engine, ImportRun) == 0


def test_imports_need_an_app_with_an_engine(client: TestClient) -> None:
    answer = client.post("/api/v1/imports", files={"file": ("a.csv", ACCOUNTS, "text/csv")})
    assert answer.status_code == 503


def _event(source_id: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "source_system": "veeva",
        "source_id": source_id,
        "stakeholder": {"source_system": "crm", "source_id": "ACC-001"},
        "occurred_at": "2026-11-02T09:30:00+01:00",
        "channel": "face_to_face",
        "department": "sales",
        "interaction_type": "call",
        "direction": "outbound",
        "product": "onco_x",
        "notes": "Discussed dosing.",
    }
    event.update(changes)
    return event


def test_events_are_stored_once_and_a_second_push_is_unchanged(
    api: TestClient, store_engine: Engine
) -> None:
    _upload(api)
    with Session(store_engine) as session:
        patient_id = make_stakeholder(session, type="patient").id
        session.commit()
    batch = {
        "events": [
            _event("V-1"),
            _event("V-2", stakeholder=None, stakeholder_id=patient_id, channel="phone"),
            _event(
                "P-1",
                source_system="psp",
                stakeholder={"source_system": "crm", "source_id": "ACC-002"},
            ),
        ]
    }
    first = api.post("/api/v1/events", json=batch)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["received"], body["created"], body["rejected"], len(body["run_ids"])) == (
        3,
        3,
        0,
        2,
    )
    assert [r["status"] for r in body["results"]] == ["created"] * 3
    with Session(store_engine) as session:
        first_call = session.get_one(Interaction, body["results"][0]["interaction_id"])
        second_call = session.get_one(Interaction, body["results"][1]["interaction_id"])
    assert str(first_call.occurred_at) == "2026-11-02 08:30:00"  # stored in UTC
    assert (first_call.channel_code, first_call.product_code) == ("face_to_face", "onco_x")
    assert second_call.stakeholder_id == patient_id

    again = api.post("/api/v1/events", json=batch).json()
    assert [r["status"] for r in again["results"]] == ["unchanged"] * 3
    assert [r["interaction_id"] for r in again["results"]] == [
        r["interaction_id"] for r in body["results"]
    ]
    changed = api.post("/api/v1/events", json={"events": [_event("V-1", outcome="sample left")]})
    assert changed.json()["results"][0]["status"] == "updated"
    assert _count(store_engine, Interaction) == 3


def test_rejected_events_are_quarantined_and_replayed_with_a_correction(
    api: TestClient, store_engine: Engine
) -> None:
    _upload(api)
    batch = {
        "events": [
            _event("V-1"),
            _event("V-2", channel="fax"),
            _event("V-3", stakeholder={"source_id": "ACC-404"}),
            _event("V-4", stakeholder=None),
            _event("V-5", occurred_at="yesterday"),
        ]
    }
    body = api.post("/api/v1/events", json=batch).json()
    assert [r["status"] for r in body["results"]] == ["created"] + ["rejected"] * 4
    reasons = [r["reason"] for r in body["results"][1:]]
    assert reasons[0] == (
        "column 'channel' is 'fax', which is not a known channels code; "
        "known: email, face_to_face, phone"
    )
    assert reasons[1] == (
        "column 'stakeholder' is 'ACC-404', but no stakeholder has that id in source system "
        "'veeva'; import that system's stakeholders first, or correct the id"
    )
    assert reasons[2] == "column 'stakeholder' is empty, and 'stakeholder' is required"
    assert reasons[3].startswith("column 'occurred_at' is 'yesterday', expected an ISO 8601 date")

    listed = api.get("/api/v1/quarantine", params={"run_id": body["run_ids"][0]}).json()
    assert listed["total"] == 4
    fax = listed["items"][0]
    assert fax["id"] == body["results"][1]["quarantined_row_id"]
    assert (fax["row_number"], fax["source_id"], fax["values"]["channel"]) == (2, "V-2", "fax")
    assert fax["reason"].startswith("row 2: column 'channel' is 'fax'")

    replayed = api.post(
        f"/api/v1/quarantine/{fax['id']}/replay", json={"corrections": {"channel": "phone"}}
    )
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["created"], replayed.json()["quarantined"]) == (1, 0)
    open_rows = api.get("/api/v1/quarantine", params={"run_id": body["run_ids"][0]}).json()
    assert open_rows["total"] == 3
    everything = api.get(
        "/api/v1/quarantine", params={"run_id": body["run_ids"][0], "status": "all", "limit": 1}
    ).json()
    assert (everything["total"], everything["limit"], len(everything["items"])) == (4, 1, 1)
    # The replayed event is now in the ledger: the source pushing it corrected is a no-op.
    repush = api.post("/api/v1/events", json={"events": [_event("V-2", channel="phone")]})
    assert repush.json()["results"][0]["status"] == "unchanged"
    assert _count(store_engine, Interaction) == 2


def test_events_batch_shape_is_checked_as_a_whole(api: TestClient) -> None:
    assert api.post("/api/v1/events", json={"events": []}).status_code == 422
    typo = api.post("/api/v1/events", json={"events": [_event("V-1", chanel="phone")]})
    assert typo.status_code == 422
    assert typo.json()["detail"][0]["loc"] == ["body", "events", 0, "chanel"]
    both = _event("V-1", stakeholder_id=1)
    assert api.post("/api/v1/events", json={"events": [both]}).status_code == 422
    too_many = {"events": [_event(f"V-{i}") for i in range(10_001)]}
    assert api.post("/api/v1/events", json=too_many).status_code == 422


def test_quarantine_replay_and_discard_over_the_api(api: TestClient) -> None:
    run_id = _upload(api).json()["run_id"]
    rows = api.get("/api/v1/quarantine", params={"run_id": run_id}).json()["items"]
    dentist, narnia = rows
    assert dentist["reason"].startswith("row 4: column 'account_type' is 'Dentist'")

    still_bad = api.post(f"/api/v1/quarantine/{dentist['id']}/replay", json={})
    assert (still_bad.json()["created"], still_bad.json()["quarantined"]) == (0, 1)
    fresh = api.get("/api/v1/quarantine", params={"status": "open"}).json()["items"]
    dentist_again = next(r for r in fresh if r["source_id"] == "ACC-003")
    corrected = api.post(
        f"/api/v1/quarantine/{dentist_again['id']}/replay",
        json={"corrections": {"account_type": "Physician"}},
    )
    assert (corrected.json()["created"], corrected.json()["quarantined"]) == (1, 0)
    assert api.post(f"/api/v1/quarantine/{dentist_again['id']}/replay", json={}).status_code == 409

    discarded = api.post(f"/api/v1/quarantine/{narnia['id']}/discard")
    assert (discarded.status_code, discarded.json()["status"]) == (200, "discarded")
    assert api.post(f"/api/v1/quarantine/{narnia['id']}/discard").status_code == 409
    assert api.get("/api/v1/quarantine").json()["total"] == 0
    assert api.post("/api/v1/quarantine/999999/discard").status_code == 404
    assert api.post("/api/v1/quarantine/999999/replay", json={}).status_code == 404
    assert api.get("/api/v1/imports/999999").status_code == 404


def test_background_upload_answers_at_once_and_the_run_completes(
    api: TestClient, store_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The worker finds the store by configuration, as a worker process would.
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    monkeypatch.setenv("CPXM_SPOOL_DIR", str(tmp_path / "spool"))
    answer = _upload(api, background="true")
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert answer.headers["location"] == f"/api/v1/imports/{queued['id']}"
    # Tests run jobs at once (CPXM_JOBS_URL=immediate), so the run is done by now.
    run = api.get(answer.headers["location"]).json()
    assert (run["status"], run["read"], run["created"], run["quarantined"]) == (
        "completed",
        4,
        2,
        2,
    )
    assert _count(store_engine, Stakeholder) == 2
    assert list((tmp_path / "spool").iterdir()) == []  # the spooled copy is gone


def test_background_upload_of_an_unreadable_file_fails_its_run_with_the_reason(
    api: TestClient, store_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    monkeypatch.setenv("CPXM_SPOOL_DIR", str(tmp_path / "spool"))
    answer = _upload(api, b"ACCOUNT_ID;NAME\nACC-1;Anna\n", background="true")
    assert answer.status_code == 202, answer.text
    run = api.get(answer.headers["location"]).json()
    assert run["status"] == "failed"
    assert "has no column" in run["error"]
    assert _count(store_engine, Stakeholder) == 0


def test_background_dry_run_is_refused(api: TestClient) -> None:
    answer = _upload(api, background="true", dry_run="true")
    assert answer.status_code == 422
    assert "dry run answers in the request" in answer.text
