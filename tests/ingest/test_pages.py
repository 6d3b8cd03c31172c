"""The import pages in-process: templates to read, and who may open them (the flows with a
worker are in tests/browser/test_import_pages.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.app import create_app
from cpxm.ingest.models import ImportRun
from tests.conftest import bearer_headers
from tests.factories import make_taxonomy

HTML = {"accept": "text/html"}


def test_a_steward_reads_a_template_and_nothing_else_becomes_a_path(client: TestClient) -> None:
    page = client.get("/imports/templates/crm-accounts", headers=HTML)
    assert page.status_code == 200 and "source_id: account_id" in page.text
    for name in ("nope", "..%2F..%2Fpyproject", "crm-accounts.yaml"):
        answer = client.get(f"/imports/templates/{name}", headers=HTML)
        assert answer.status_code == 404, name
    listed = client.get("/imports", headers=HTML)
    assert listed.status_code == 200 and 'href="/imports/templates/crm-calls"' in listed.text


def test_only_stewards_open_the_import_pages(client_as: Callable[[str], TestClient]) -> None:
    for role in ("cx_lead", "analyst", "pv_officer"):
        as_role = client_as(role)
        for path in ("/imports", "/imports/templates/crm-accounts"):
            assert as_role.get(path, headers=HTML).status_code == 403, (role, path)


def test_a_dry_run_with_a_pasted_mapping_and_the_refusals_on_the_form(
    store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_SPOOL_DIR", str(tmp_path / "spool"))
    with Session(store_engine) as session:
        make_taxonomy(session)
        session.commit()
    headers = {**HTML, **bearer_headers(sessionmaker(bind=store_engine), "admin")}
    mapping = (
        "source_system: crm\ntarget: stakeholders\nsource_id: Id\n"
        "fields:\n  type: {value: hcp}\n  first_name: First\n  last_name: Last\n"
    )
    rows = b"Id,First,Last\nX1,Anna,Schmidt\nX2,,\n"
    with TestClient(create_app(engine=store_engine), headers=headers) as client:
        answer = client.post(
            "/imports/upload",
            data={"action": "dry_run", "mapping_yaml": mapping},
            files={"file": ("people.csv", rows, "text/csv")},
        )
        assert answer.status_code == 200, answer.text
        assert re.search(r'id="dry-read">2<', answer.text)
        assert "Schmidt" in answer.text and "uploaded mapping" in answer.text
        # The checked file waits, named by its spool token, for "Import these rows".
        token = re.search(r'name="token" value="([^"]+)"', answer.text)
        assert token and (tmp_path / "spool" / token.group(1)).is_file()

        both = client.post(
            "/imports/upload",
            data={"mapping": "crm-accounts", "mapping_yaml": mapping},
            files={"file": ("people.csv", rows, "text/csv")},
        )
        assert both.status_code == 422 and "not both" in both.text
        broken = client.post(
            "/imports/upload",
            data={"mapping_yaml": "target: [unclosed"},
            files={"file": ("people.csv", rows, "text/csv")},
        )
        assert broken.status_code == 422 and "not valid YAML" in broken.text
        empty = client.post(
            "/imports/upload",
            data={"mapping": "crm-accounts"},
            files={"file": ("empty.csv", b"", "text/csv")},
        )
        assert empty.status_code == 422 and "is empty" in empty.text
        gone = client.post(
            "/imports/run", data={"token": "upload-x/../../etc", "mapping": "crm-accounts"}
        )
        assert gone.status_code == 410 and "upload the file again" in gone.text
    with Session(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(ImportRun)) == 0
