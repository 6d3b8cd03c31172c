"""Who made each contact: an interactions import maps the employee (a CRM call's owner, a
call-centre agent) by the employee's source id. An owner naming nobody (or naming someone who is
no employee) never loses the call: the field is blanked and logged as a data-quality issue, and
the next import of the same row looks again. Through ``cpxm import`` on a fresh store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.identity.models import SourceRecord
from cpxm.ingest.mapping import MappingError, parse_mapping, resolve_mapping
from cpxm.ingest.models import DataQualityIssue, QuarantinedRow
from cpxm.ingest.service import import_file
from cpxm.interactions.models import Interaction
from cpxm.workspace.models import Channel, Country, Department
from tests.conftest import url_of
from tests.served import cpxm_command

EMPLOYEES = (
    "employee_number,first_name,last_name,work_email,phone,office_city,country,language\n"
    "E1,Anna,Weber,anna.weber@example.org,,Berlin,DE,de\n"
    "E2,Jonas,Klein,jonas.klein@example.org,,Hamburg,DE,de\n"
)
ACCOUNTS = (
    "account_id,account_type,salutation,first_name,last_name,specialty,professional_id,"
    "primary_parent,email,phone,street,postal_code,city,country,language\n"
    "ACC-1,Physician,Dr,Luc,Martin,Cardiology,,,luc.martin@example.org,,,,Berlin,DE,de\n"
)
CALLS_HEADER = (
    "call_id,account_id,call_datetime,call_channel,owner_department,call_type,product,"
    "therapeutic_area,call_outcome,call_notes,owner_id\n"
)
CALLS = CALLS_HEADER + (
    "C1,ACC-1,2025-05-01T10:00:00Z,Phone,,call,,,,first,E1\n"
    "C2,ACC-1,2025-05-02T10:00:00Z,F2F,,call,,,,second,E2\n"
    "C3,ACC-1,2025-05-03T10:00:00Z,Phone,,call,,,,third,E9\n"  # nobody in HR: blanked
    "C4,ACC-1,2025-05-04T10:00:00Z,Phone,,call,,,,fourth,\n"  # no owner: nothing to flag
)


def _seed_taxonomy(engine: Engine) -> None:
    with Session(engine) as session:
        session.add_all(
            [
                Country(code="DE", name="Germany", default_language="de"),
                Channel(code="face_to_face", name="Face to face", kind="personal"),
                Channel(code="phone", name="Phone", kind="remote"),
                Department(code="field_sales", name="Field sales"),
            ]
        )
        session.commit()


def _employees_of_calls(engine: Engine) -> dict[str, str | None]:
    """Call id -> the HR employee number of the interaction's employee (None: blank)."""
    with Session(engine) as session:
        hr_number = {
            record.stakeholder_id: record.source_id
            for record in session.scalars(
                select(SourceRecord).where(SourceRecord.source_system == "hr")
            )
        }
        notes_to_call = {"first": "C1", "second": "C2", "third": "C3", "fourth": "C4"}
        return {
            notes_to_call[interaction.notes or ""]: (
                hr_number[interaction.employee_id] if interaction.employee_id else None
            )
            for interaction in session.scalars(select(Interaction))
        }


def _issues(engine: Engine) -> list[tuple[str, str, str | None, str]]:
    with Session(engine) as session:
        return [
            (issue.source_key, issue.field, issue.value, issue.status)
            for issue in session.scalars(select(DataQualityIssue).order_by(DataQualityIssue.id))
        ]


def test_crm_calls_carry_their_owner_and_an_unknown_owner_is_blanked_not_lost(
    store_engine: Engine, tmp_path: Path
) -> None:
    environment = {**os.environ, "CPXM_DATABASE_URL": url_of(store_engine), "COLUMNS": "250"}

    def cpxm(*arguments: str) -> str:
        done = cpxm_command(*arguments, environment=environment, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())

    cpxm("init")
    _seed_taxonomy(store_engine)
    (tmp_path / "hr.csv").write_text(EMPLOYEES, encoding="utf-8")
    (tmp_path / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    (tmp_path / "calls.csv").write_text(CALLS, encoding="utf-8")
    assert "created 2" in cpxm("import", "hr.csv", "--mapping", "hr-employees")
    assert "created 1" in cpxm("import", "accounts.csv", "--mapping", "crm-person-accounts")

    imported = cpxm("import", "calls.csv", "--mapping", "crm-calls")
    assert "read 4 created 4 updated 0 unchanged 0 quarantined 0" in imported
    assert "1 unreadable value(s) blanked" in imported
    assert _employees_of_calls(store_engine) == {"C1": "E1", "C2": "E2", "C3": None, "C4": None}
    assert _issues(store_engine) == [("C3", "employee", "E9", "open")]
    listed = cpxm("quality", "list")
    assert "C3" in listed and "employee" in listed
    assert "column 'owner_id' is 'E9', but no stakeholder has that id in source system 'hr'" in (
        listed
    )

    # The employee arrives from HR; the same calls file again fills C3's owner and resolves
    # its issue, while the rows that were complete stay unchanged.
    (tmp_path / "hr.csv").write_text(
        EMPLOYEES + "E9,Mia,Vogel,mia.vogel@example.org,,Munich,DE,de\n", encoding="utf-8"
    )
    assert "created 1" in cpxm("import", "hr.csv", "--mapping", "hr-employees")
    again = cpxm("import", "calls.csv", "--mapping", "crm-calls")
    assert "created 0 updated 1 unchanged 3 quarantined 0" in again, again
    assert "blanked" not in again
    assert _employees_of_calls(store_engine)["C3"] == "E9"
    assert _issues(store_engine) == [("C3", "employee", "E9", "resolved")]
    assert "unchanged 4" in cpxm("import", "calls.csv", "--mapping", "crm-calls")
    with Session(store_engine) as session:
        assert session.scalars(select(QuarantinedRow)).all() == []


def test_a_calls_file_whose_owner_column_is_empty_is_stored_without_owners(
    store_engine: Engine, tmp_path: Path
) -> None:
    """A CRM export that has the owner column but never fills it (every cell empty)."""
    _seed_taxonomy(store_engine)
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS, encoding="utf-8")
    import_file(store_engine, path=accounts, mapping=resolve_mapping("crm-person-accounts"))
    calls = tmp_path / "calls.csv"
    calls.write_text(
        CALLS_HEADER
        + "".join(
            f"C{index},ACC-1,2025-05-0{index}T10:00:00Z,Phone,,call,,,,n{index},\n"
            for index in range(1, 4)
        ),
        encoding="utf-8",
    )
    report = import_file(store_engine, path=calls, mapping=resolve_mapping("crm-calls"))
    assert (report.created, report.quarantined, report.blanked) == (3, 0, 0)
    with Session(store_engine) as session:
        assert list(session.scalars(select(Interaction.employee_id))) == [None, None, None]


def _calls_mapping(**employee: Any) -> dict[str, Any]:
    return {
        "name": "calls",
        "source_system": "crm",
        "target": "interactions",
        "source_id": "call_id",
        "fields": {
            "stakeholder": "account_id",
            "occurred_at": "call_datetime",
            "channel": {"value": "phone"},
            "department": {"value": "field_sales"},
            "notes": "call_notes",
            "employee": {"column": "owner_id", **employee},
        },
    }


def test_an_owner_who_is_no_employee_is_blanked_or_quarantined_as_the_mapping_says(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    for name, text, template in (
        ("hr.csv", EMPLOYEES, "hr-employees"),
        ("accounts.csv", ACCOUNTS, "crm-person-accounts"),
    ):
        (tmp_path / name).write_text(text, encoding="utf-8")
        import_file(store_engine, path=tmp_path / name, mapping=resolve_mapping(template))
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "call_id,account_id,call_datetime,call_notes,owner_id,owner_system\n"
        "C1,ACC-1,2025-05-01T10:00:00Z,first,E1,hr\n"
        "C2,ACC-1,2025-05-02T10:00:00Z,second,ACC-1,crm\n"  # names the HCP, not an employee
        "C3,ACC-1,2025-05-03T10:00:00Z,third,E7,hr\n",
        encoding="utf-8",
    )
    mapping = _calls_mapping(source_system_column="owner_system")
    report = import_file(store_engine, path=calls, mapping=parse_mapping(mapping))
    assert (report.created, report.quarantined, report.blanked) == (3, 0, 2)
    assert _employees_of_calls(store_engine) == {"C1": "E1", "C2": None, "C3": None}
    with Session(store_engine) as session:
        reasons = list(session.scalars(select(DataQualityIssue.reason)))
    assert reasons[0] == (
        "row 3: column 'owner_id' is 'ACC-1', which names a stakeholder of type hcp; "
        "expected one of type employee"
    )

    # A mapping that wants every call attributed quarantines those rows instead.
    strict = _calls_mapping(source_system="hr", on_invalid="quarantine")
    calls.write_text(
        "call_id,account_id,call_datetime,call_notes,owner_id\n"
        "S1,ACC-1,2025-06-01T10:00:00Z,strict one,E2\n"
        "S2,ACC-1,2025-06-02T10:00:00Z,strict two,E7\n",
        encoding="utf-8",
    )
    report = import_file(store_engine, path=calls, mapping=parse_mapping(strict))
    assert (report.created, report.quarantined, report.blanked) == (1, 1, 0)
    with Session(store_engine) as session:
        quarantined = session.scalars(select(QuarantinedRow.reason)).one()
    assert "column 'owner_id' is 'E7', but no stakeholder has that id in source system 'hr'" in (
        quarantined
    )


def test_only_the_employee_reference_may_be_blanked() -> None:
    mapping = _calls_mapping(on_invalid="blank")
    assert parse_mapping(mapping).fields["employee"].on_invalid == "blank"
    mapping["fields"]["stakeholder"] = {"column": "account_id", "on_invalid": "blank"}
    try:
        parse_mapping(mapping)
    except MappingError as error:
        assert "'stakeholder'" in str(error)
    else:  # pragma: no cover - the assertion below says what went wrong
        raise AssertionError("a mapping blanking the interaction's stakeholder was accepted")
