"""The import pages in-process: templates to read, and who may open them (the flows with a
worker are in tests/browser/test_import_pages.py)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

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
