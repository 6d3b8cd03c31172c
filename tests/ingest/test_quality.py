"""Keep the person, flag the attribute: an unreadable optional value is blanked and logged as a
data-quality issue, the row is stored; required fields still quarantine it. Through the service,
the API, and ``cpxm`` in subprocesses on a fresh store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.app import create_app
from cpxm.identity.models import SourceRecord
from cpxm.ingest.mapping import MappingError, parse_mapping
from cpxm.ingest.models import DataQualityIssue, QuarantinedRow
from cpxm.ingest.quality import list_quality_issues
from cpxm.ingest.service import import_file
from tests.conftest import bearer_headers, url_of
from tests.served import cpxm_command

PEOPLE_MAPPING: dict[str, Any] = {
    "name": "people",
    "source_system": "registry",
    "target": "stakeholders",
    "source_id": "rec_id",
    "fields": {
        "type": {"value": "patient"},
        "first_name": "given_name",
        "last_name": "surname",
        "birth_date": {"column": "date_of_birth", "date_format": "%Y%m%d"},
        "phone": "phone",
        "postal_code": "postcode",
    },
}
PEOPLE = (
    "rec_id,given_name,surname,date_of_birth,phone,postcode\n"
    "R1,Jane,Doe,19450412,0412 555 010,2600\n"
    "R2,John,Roe,19450493,0412 555 011,2601\n"  # the 93rd of April: blanked, the person kept
    f"R3,Mary,Major,19600101,{'9' * 41},2602\n"  # a phone too long for the field: blanked
    "R4,,,19700101,,\n"
)


def _people(tmp_path: Path, text: str = PEOPLE) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _issues(engine: Engine) -> list[tuple[str, str, str | None, str, str]]:
    with Session(engine) as session:
        return [
            (issue.source_key, issue.field, issue.value, issue.status, issue.reason)
            for issue in session.scalars(select(DataQualityIssue).order_by(DataQualityIssue.id))
        ]


def test_an_unreadable_birth_date_is_blanked_and_logged_and_the_person_stored(
    store_engine: Engine, tmp_path: Path
) -> None:
    mapping = parse_mapping(PEOPLE_MAPPING)
    report = import_file(store_engine, path=_people(tmp_path), mapping=mapping)

    assert (report.read, report.created, report.quarantined, report.blanked) == (4, 4, 0, 2)
    with Session(store_engine) as session:
        attributes = {
            record.source_id: record.attributes for record in session.scalars(select(SourceRecord))
        }
    assert attributes["R1"]["birth_date"] == "1945-04-12"
    assert "birth_date" not in attributes["R2"]
    assert (attributes["R2"]["last_name"], attributes["R2"]["phone"]) == ("Roe", "0412 555 011")
    assert "phone" not in attributes["R3"]
    issues = _issues(store_engine)
    assert [issue[:4] for issue in issues] == [
        ("R2", "birth_date", "19450493", "open"),
        ("R3", "phone", "9" * 41, "open"),
    ]
    assert issues[0][4].startswith("row 3: column 'date_of_birth' is '19450493', expected a date")
    assert issues[1][4] == "row 4: column 'phone' is 41 characters long; 'phone' takes at most 40"

    # The same file again: every row unchanged, no issue said twice.
    again = import_file(store_engine, path=_people(tmp_path), mapping=mapping)
    assert (again.unchanged, again.blanked) == (4, 0)
    assert _issues(store_engine) == issues

    # Corrected at the source: R2's issue is resolved; R3 said again (and changed) supersedes.
    corrected = PEOPLE.replace("19450493", "19450403").replace("Mary", "Maria")
    third = import_file(store_engine, path=_people(tmp_path, corrected), mapping=mapping)
    assert (third.updated, third.blanked) == (2, 1)
    assert [(key, status) for key, _, _, status, _ in _issues(store_engine)] == [
        ("R2", "resolved"),
        ("R3", "superseded"),
        ("R3", "open"),
    ]
    with Session(store_engine) as session:
        listed, total = list_quality_issues(session)
        assert (total, [issue.source_key for issue in listed]) == (1, ["R3"])
        record = session.scalars(select(SourceRecord).where(SourceRecord.source_id == "R2")).one()
        assert record.attributes["birth_date"] == "1945-04-03"


def test_on_invalid_says_which_fields_quarantine_and_which_blank(
    store_engine: Engine, tmp_path: Path
) -> None:
    strict = {
        **PEOPLE_MAPPING,
        "fields": {
            **PEOPLE_MAPPING["fields"],
            "birth_date": {**PEOPLE_MAPPING["fields"]["birth_date"], "on_invalid": "quarantine"},
            "last_name": {"column": "surname", "pattern": "[A-Z][a-z]+", "on_invalid": "blank"},
        },
    }
    report = import_file(store_engine, path=_people(tmp_path), mapping=parse_mapping(strict))

    # R2 is quarantined for its birth date; R4's empty surname is nothing to flag.
    assert (report.created, report.quarantined, report.blanked) == (3, 1, 1)
    with Session(store_engine) as session:
        reasons = list(session.scalars(select(QuarantinedRow.reason)))
    assert reasons[0].startswith("row 3: column 'date_of_birth' is '19450493'")
    assert [issue[:3] for issue in _issues(store_engine)] == [("R3", "phone", "9" * 41)]


@pytest.mark.parametrize(
    ("field", "spec", "reason"),
    [
        ("type", {"column": "kind", "on_invalid": "blank"}, "field 'type' is required"),
        ("email", {"column": "mail", "on_invalid": "sometimes"}, "on_invalid"),
    ],
)
def test_a_mapping_cannot_blank_what_it_needs(
    field: str, spec: dict[str, Any], reason: str
) -> None:
    document = {**PEOPLE_MAPPING, "fields": {**PEOPLE_MAPPING["fields"], field: spec}}
    with pytest.raises(MappingError, match=reason):
        parse_mapping(document)


def test_a_reference_cannot_be_blanked() -> None:
    feedback = {
        "name": "comments",
        "source_system": "web",
        "target": "feedback",
        "source_id": "id",
        "fields": {
            "stakeholder": {"column": "account", "on_invalid": "blank"},
            "text": "text",
            "received_at": "received",
            "source_kind": {"value": "web"},
        },
    }
    with pytest.raises(MappingError, match="stakeholder reference"):
        parse_mapping(feedback)


def test_the_api_lists_quality_issues_a_page_at_a_time(
    store_engine: Engine, tmp_path: Path
) -> None:
    mapping = parse_mapping(PEOPLE_MAPPING)
    report = import_file(store_engine, path=_people(tmp_path), mapping=mapping)
    headers = bearer_headers(sessionmaker(bind=store_engine), "admin")
    with TestClient(create_app(engine=store_engine), headers=headers) as api:
        page = api.get("/api/v1/imports/quality-issues", params={"limit": 1})
        assert page.status_code == 200, page.text
        body = page.json()
        assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (2, 1, 0, 1)
        first = body["items"][0]
        assert (first["run_id"], first["source_id"], first["field"], first["value"]) == (
            report.run_id,
            "R2",
            "birth_date",
            "19450493",
        )
        assert isinstance(first["record_id"], int)
        second = api.get("/api/v1/imports/quality-issues", params={"limit": 1, "offset": 1})
        assert [item["source_id"] for item in second.json()["items"]] == ["R3"]
        other_run = api.get("/api/v1/imports/quality-issues", params={"run_id": 999})
        assert other_run.json()["total"] == 0
        refused = api.get("/api/v1/imports/quality-issues", params={"status": "lost"})
        assert refused.status_code == 422


def test_cpxm_import_and_quality_list_as_a_user_runs_them(
    store_engine: Engine, tmp_path: Path
) -> None:
    environment = {**os.environ, "CPXM_DATABASE_URL": url_of(store_engine), "COLUMNS": "200"}
    (tmp_path / "people.yaml").write_text(
        "name: people\nsource_system: registry\ntarget: stakeholders\nsource_id: rec_id\n"
        "fields:\n  type: {value: patient}\n  first_name: given_name\n  last_name: surname\n"
        "  birth_date: {column: date_of_birth, date_format: '%Y%m%d'}\n  phone: phone\n"
        "  postal_code: postcode\n",
        encoding="utf-8",
    )
    _people(tmp_path)

    def cpxm(*arguments: str) -> str:
        done = cpxm_command(*arguments, environment=environment, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())

    cpxm("init")
    imported = cpxm("import", "people.csv", "--mapping", "people.yaml")
    assert "read 4 created 4 updated 0 unchanged 0 quarantined 0" in imported
    assert "2 unreadable value(s) blanked, their rows stored" in imported
    listed = cpxm("quality", "list")
    assert "2 data-quality issue(s)" in listed
    assert "19450493" in listed and "R2" in listed and "birth_date" in listed
    again = cpxm("import", "people.csv", "--mapping", "people.yaml")
    assert "unchanged 4" in again and "blanked" not in again
    assert "2 data-quality issue(s)" in cpxm("quality", "list", "--status", "all")
