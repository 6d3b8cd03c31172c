"""``cpxm resolve`` as a user runs it: ``cpxm`` processes on a fresh store, nothing imported here.

In-process tests import every model module, so they cannot see a command whose own process does
not load them; these run the installed ``cpxm`` script in subprocesses, as a shell would.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
from pathlib import Path

from sqlalchemy import Engine, text

from tests.conftest import url_of
from tests.served import cpxm_command

CRM_COLUMNS = (
    "account_id;account_type;first_name;last_name;account_name;specialty;professional_id;"
    "email;phone;address_line;postal_code;city;country;language"
)
CRM_ACCOUNTS = f"""\
{CRM_COLUMNS}
CRM-1;Physician;Anna;Schmidt;;Oncology;1234567890;anna.schmidt@praxis.example;;;10115;Berlin;;de
CRM-2;Physician;Jonas;Weber;;Cardiology;2345678901;j.weber@klinikum.example;;;80331;Munich;;de
"""
EVENT_REGISTRATIONS = """\
attendee_id,attendee,attendee_category,email,mobile,organisation,profession,city,country
EV-1,"Schmidt, Anna",Healthcare professional,anna.schmidt@praxis.example,,Charité,Oncology,Berlin,
EV-2,Tom Becker,Healthcare professional,tom.becker@praxis.example,,,General practice,Hamburg,
"""


def cpxm(
    *arguments: str, url: str, cwd: Path, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CPXM_DATABASE_URL": url}
    environment.pop("CPXM_TOKEN", None)
    if token is not None:
        environment["CPXM_TOKEN"] = token
    return cpxm_command(*arguments, environment=environment, cwd=cwd)


def test_two_exports_imported_with_templates_resolve_into_golden_records(
    store_engine: Engine, tmp_path: Path
) -> None:
    url = url_of(store_engine)
    (tmp_path / "crm.csv").write_text(CRM_ACCOUNTS, encoding="utf-8")
    (tmp_path / "events.csv").write_text(EVENT_REGISTRATIONS, encoding="utf-8")
    for arguments in (
        ("init",),
        ("import", "crm.csv", "--mapping", "crm-accounts"),
        ("import", "events.csv", "--mapping", "event-registrations"),
    ):
        done = cpxm(*arguments, url=url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    resolved = cpxm("resolve", url=url, cwd=tmp_path)

    assert resolved.returncode == 0, resolved.stderr
    assert "1 stakeholders merged" in resolved.stdout
    exported = cpxm("identity", "export", "links.csv", url=url, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "links.csv").open(encoding="utf-8", newline="") as links:
        golden = {
            (row["source_system"], row["source_id"]): row["stakeholder_id"]
            for row in csv.DictReader(links)
        }
    assert golden[("crm", "CRM-1")] == golden[("events", "EV-1")]
    assert len({golden[key] for key in golden}) == 3
    again = cpxm("resolve", url=url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 stakeholders merged, 0 golden records created, 0 updated" in " ".join(
        again.stdout.split()
    )


HR_EMPLOYEES = """\
employee_number,first_name,last_name,work_email,phone,office_city,country,language
E-1,Anna,Schmidt,anna.schmidt@praxis.example,+49 30 1234567,Berlin,,de
"""


def test_an_employee_and_an_hcp_are_queued_as_a_type_conflict_and_never_merged(
    store_engine: Engine, tmp_path: Path
) -> None:
    url = url_of(store_engine)
    (tmp_path / "crm.csv").write_text(
        CRM_ACCOUNTS.replace(";;;10115", ";+49 30 1234567;;10115"), encoding="utf-8"
    )
    (tmp_path / "hr.csv").write_text(HR_EMPLOYEES, encoding="utf-8")
    for arguments in (
        ("init",),
        ("import", "crm.csv", "--mapping", "crm-accounts"),
        ("import", "hr.csv", "--mapping", "hr-employees"),
        ("resolve",),
    ):
        done = cpxm(*arguments, url=url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    review = cpxm("identity", "review", url=url, cwd=tmp_path)
    assert review.returncode == 0, review.stderr
    assert "employee vs hcp" in review.stdout and "1 pairs waiting" in review.stdout
    row = re.search(r"│\s*(\d+)\s*│[^\n]*employee vs hcp", review.stdout)
    assert row is not None, review.stdout
    pair_id = row.group(1)
    anonymous = cpxm("identity", "accept", pair_id, url=url, cwd=tmp_path)
    assert anonymous.returncode == 1 and "CPXM_TOKEN" in anonymous.stderr
    added = cpxm(
        "user",
        "add",
        "steward@example.org",
        "--role",
        "admin",
        "--no-password",
        url=url,
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    token = cpxm("token", "create", "--user", "steward@example.org", url=url, cwd=tmp_path)
    refused = cpxm("identity", "accept", pair_id, url=url, cwd=tmp_path, token=token.stdout.strip())
    assert refused.returncode != 0
    assert "never merged" in refused.stdout + refused.stderr
    rejected = cpxm(
        "identity", "reject", pair_id, url=url, cwd=tmp_path, token=token.stdout.strip()
    )
    assert rejected.returncode == 0 and f"pair {pair_id} rejected" in rejected.stdout
    with store_engine.connect() as connection:
        steward = connection.execute(
            text("SELECT id FROM users WHERE email = :email"), {"email": "steward@example.org"}
        ).scalar_one()
        audited = (
            connection.execute(
                text("SELECT user_id FROM audit_log WHERE reason = :reason"),
                {"reason": f"cpxm identity reject {pair_id}"},
            )
            .scalars()
            .all()
        )
    assert audited and set(audited) == {steward}
