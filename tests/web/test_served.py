"""The served app keeps its word: what it acknowledges is stored before the answer leaves, the
embedded SQLite store holds concurrent writers, and bad input is a 4xx, on both engines.

Each test runs ``cpxm serve`` in a process of its own on a fresh store (``tests/served.py``).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import url_of
from tests.factories import make_taxonomy
from tests.served import Served, served, sign_in

CRM = """\
account_id;account_type;first_name;last_name;account_name;specialty;professional_id;email;phone;address_line;postal_code;city;country;language
ACC-1;Physician;Anna;Schmidt;;Oncology;1234567890;anna.schmidt@praxis.example;;;10115;Berlin;DE;de
ACC-2;Physician;Jonas;Weber;;Cardiology;2345678901;j.weber@klinikum.example;;;80331;Munich;DE;de
"""


@pytest.fixture
def server(store_engine: Engine, tmp_path: Path) -> Iterator[Served]:
    with Session(store_engine) as session:
        make_taxonomy(session)  # countries, channels, departments: a fresh store has none
        session.commit()
    (tmp_path / "crm.csv").write_text(CRM, encoding="utf-8")
    with served(url_of(store_engine), tmp_path) as running:
        imported = running.cpxm("import", "crm.csv", "--mapping", "crm-accounts")
        assert imported.returncode == 0, imported.stderr
        yield running


def _stakeholder_id(client: httpx.Client) -> int:
    found = client.get("/api/v1/stakeholders", params={"limit": 1})
    assert found.status_code == 200, found.text
    return int(found.json()["items"][0]["id"])


def test_a_session_is_signed_in_for_the_very_next_request(server: Served) -> None:
    email = server.user("analyst")
    returned_to_sign_in = 0
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        for _ in range(200):
            cookie = sign_in(browser, email)
            browser.cookies.clear()
            page = browser.get("/", headers={"Cookie": f"cpxm_session={cookie}"})
            assert page.status_code in (200, 303), page.text[:300]
            if page.status_code == 303 or "/auth/sign-in" in str(page.url):
                returned_to_sign_in += 1
    assert returned_to_sign_in == 0


def test_every_write_api_is_readable_in_the_next_request(server: Served) -> None:
    misses: Counter[str] = Counter()
    with server.client("admin") as api:
        stakeholder = _stakeholder_id(api)
        for attempt in range(25):
            created = api.post(
                "/api/v1/feedback",
                json={
                    "source_kind": "web_form",
                    "text": f"The portal was slow today ({attempt}).",
                    "stakeholder_id": stakeholder,
                },
            )
            assert created.status_code == 201, created.text
            if api.get(f"/api/v1/feedback/{created.json()['id']}").status_code != 200:
                misses["feedback"] += 1

            created = api.post(
                "/api/v1/interactions",
                json={
                    "stakeholder_id": stakeholder,
                    "occurred_at": "2025-06-02T10:00:00Z",
                    "channel": "email",
                    "department": "medical_affairs",
                    "interaction_type": "visit",
                    "direction": "outbound",
                },
            )
            assert created.status_code == 201, created.text
            if api.get(f"/api/v1/interactions/{created.json()['id']}").status_code != 200:
                misses["interactions"] += 1

            created = api.post(
                "/api/v1/cases",
                json={"case_type": "complaint", "title": f"Late answer {attempt}"},
            )
            assert created.status_code == 201, created.text
            case_id = created.json()["id"]
            if api.get(f"/api/v1/cases/{case_id}").status_code != 200:
                misses["cases"] += 1
            commented = api.post(f"/api/v1/cases/{case_id}/comments", json={"text": "Called back."})
            assert commented.status_code in (200, 201), commented.text
            events = api.get(f"/api/v1/cases/{case_id}").json().get("events", [])
            if not any("Called back." in json.dumps(event) for event in events):
                misses["case comments"] += 1

            created = api.post("/api/v1/teams", json={"name": f"Field team {attempt}"})
            assert created.status_code == 201, created.text
            names = [team["name"] for team in api.get("/api/v1/teams").json()["items"]]
            if f"Field team {attempt}" not in names:
                misses["teams"] += 1

            pushed = api.post(
                "/api/v1/events",
                json={
                    "events": [
                        {
                            "source_system": "crm",
                            "source_id": f"CALL-{attempt}",
                            "stakeholder_id": stakeholder,
                            "occurred_at": "2025-06-03T09:00:00Z",
                            "channel": "phone",
                            "department": "sales",
                            "interaction_type": "call",
                        }
                    ],
                },
            )
            assert pushed.status_code in (200, 201), pushed.text
            listed = api.get("/api/v1/interactions", params={"stakeholder_id": stakeholder})
            if listed.json()["total"] < 2 * (attempt + 1):
                misses["events"] += 1
    assert not misses, misses


def test_concurrent_writers_never_answer_500(server: Served) -> None:
    """Web writes from several threads, while a ``cpxm`` command imports into the same store."""
    statuses: Counter[int] = Counter()
    guard = threading.Lock()
    with server.client("admin") as api:
        stakeholder = _stakeholder_id(api)

    def post_feedback(worker: int) -> None:
        with server.client("admin") as own:
            for index in range(30):
                answer = own.post(
                    "/api/v1/feedback",
                    json={
                        "source_kind": "web_form",
                        "text": f"Worker {worker} note {index}: the rep never called back.",
                        "stakeholder_id": stakeholder,
                    },
                )
                page = own.get("/api/v1/feedback", params={"limit": 5})
                with guard:
                    statuses[answer.status_code] += 1
                    statuses[page.status_code] += 1

    threads = [threading.Thread(target=post_feedback, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    calls = server.cwd / "calls.csv"
    calls.write_text(
        "call_id,account_id,call_datetime,call_channel,owner_department,call_type,product,"
        "therapeutic_area,call_outcome,call_notes,owner_id\n"
        + "".join(
            f"C{index},ACC-1,2025-05-{1 + index % 28:02d}T10:00:00Z,Phone,sales,call,,,,"
            f"note {index},\n"
            for index in range(3000)
        ),
        encoding="utf-8",
    )
    imported = server.cpxm("import", str(calls), "--mapping", "crm-calls")
    for thread in threads:
        thread.join()
    assert statuses[500] == 0 and statuses[503] == 0, (statuses, server.log_text()[-3000:])
    assert statuses[201] == 6 * 30, statuses
    # The import is a writer too, in a process of its own, taking the same lock.
    assert imported.returncode == 0, imported.stderr
    assert "created 3,000" in imported.stdout, imported.stdout
    with server.client("admin") as api:
        stored = api.get("/api/v1/feedback", params={"limit": 1}).json()["total"]
    assert stored == 6 * 30


def test_a_background_import_is_refused_clearly_when_the_queue_is_down(
    store_engine: Engine, tmp_path: Path
) -> None:
    """A queued import's file waits in a spool folder no sweep looks at: with the queue down it
    is refused (503, the run marked failed with the reason), never left queued forever."""
    if store_engine.dialect.name != "sqlite":
        pytest.skip("the queue, not the store, is under test; one engine is enough")
    spool = tmp_path / "spool"
    with (
        served(
            url_of(store_engine),
            tmp_path,
            jobs_url="redis://127.0.0.1:9/0",  # the discard port: nothing listens there
            extra_environment={"CPXM_SPOOL_DIR": str(spool)},
        ) as running,
        running.client("admin") as api,
    ):
        answer = api.post(
            "/api/v1/imports",
            data={"mapping": "crm-accounts", "background": "true"},
            files={"file": ("crm.csv", CRM.encode(), "text/csv")},
        )
        assert answer.status_code == 503, answer.text
        assert "job queue is unreachable" in answer.json()["detail"]
        (run,) = api.get("/api/v1/imports").json()["items"]
        assert run["status"] == "failed" and "job queue is unreachable" in run["error"]
        # The same file imported in the request still works.
        direct = api.post(
            "/api/v1/imports",
            data={"mapping": "crm-accounts"},
            files={"file": ("crm.csv", CRM.encode(), "text/csv")},
        )
        assert direct.status_code == 201, direct.text
        assert "Traceback" not in running.log_text()
    assert not spool.exists() or list(spool.iterdir()) == []
