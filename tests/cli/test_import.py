from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cpxm.auth.service import create_api_token, create_user
from cpxm.cli import LOCAL_OPERATOR, app
from cpxm.identity.models import SourceRecord
from cpxm.ingest.mapping import load_mapping
from cpxm.ingest.models import ImportLedgerEntry, ImportRun, QuarantinedRow
from cpxm.ingest.service import import_file
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from cpxm.workspace.models import AuditLogEntry, Channel, Country, Department
from tests.conftest import url_of

runner = CliRunner()

MAPPING = """\
source_system: crm
target: stakeholders
source_id: ID
fields:
  type: {value: hcp}
  first_name: FIRST
  last_name: LAST
  country: {column: COUNTRY, values: {Deutschland: DE}}
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    mapping = tmp_path / "crm.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    data = tmp_path / "crm.csv"
    data.write_text(
        "ID;FIRST;LAST;COUNTRY\n1;Anna;Schmidt;Deutschland\n2;Ben;Weber;Atlantis\n",
        encoding="utf-8",
    )
    return data, mapping


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(Country(code="DE", name="Germany", default_language="de"))
        session.commit()


def _seed_calls(engine: Engine) -> None:
    """What CALLS_MAPPING's constants name."""
    with Session(engine) as session:
        session.add_all(
            [
                Channel(code="phone", name="Phone", kind="remote"),
                Department(code="sales", name="Sales"),
            ]
        )
        session.commit()


def _count(engine: Engine, model: type[object]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_import_prints_counts_and_fails_on_quarantine_unless_allowed(
    store_engine: Engine, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(store_engine)
    data, mapping = files
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    dry = runner.invoke(app, ["import", str(data), "--mapping", str(mapping), "--dry-run"])
    assert dry.exit_code == 2
    assert "dry run, nothing stored: read 2  created 1" in dry.output
    assert _count(store_engine, SourceRecord) == 0
    first = runner.invoke(app, ["import", str(data), "-m", str(mapping)])
    assert first.exit_code == 2
    assert "read 2  created 1  updated 0  unchanged 0  quarantined 1" in first.output
    assert "cpxm quarantine list --run" in first.output
    second = runner.invoke(app, ["import", str(data), "-m", str(mapping), "--allow-quarantine"])
    assert second.exit_code == 0
    assert "created 0  updated 0  unchanged 1  quarantined 1" in second.output


def test_quarantined_row_is_listed_corrected_and_replayed(
    store_engine: Engine, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(store_engine)
    data, mapping = files
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    monkeypatch.delenv("CPXM_TOKEN", raising=False)
    runner.invoke(app, ["import", str(data), "-m", str(mapping)])
    listing = runner.invoke(app, ["quarantine", "list"])
    assert listing.exit_code == 0
    assert "'Atlantis'" in listing.output
    with Session(store_engine) as session:
        row_id = session.scalars(select(QuarantinedRow.id)).one()
    for command in (["replay", str(row_id)], ["discard", str(row_id)]):
        anonymous = runner.invoke(app, ["quarantine", *command])
        assert anonymous.exit_code == 1 and "CPXM_TOKEN" in anonymous.output, command
    with Session(store_engine) as session:
        admin = create_user(session, email="steward@example.org", role="admin")
        lead = create_user(session, email="lead@example.org", role="cx_lead")
        admin_token = create_api_token(session, user=admin).token
        lead_token = create_api_token(session, user=lead).token
        admin_id = admin.id
        session.commit()
    monkeypatch.setenv("CPXM_TOKEN", lead_token)
    refused = runner.invoke(app, ["quarantine", "replay", str(row_id)])
    assert refused.exit_code == 1 and "may not do this" in refused.output
    with Session(store_engine) as session:
        assert session.scalar(select(QuarantinedRow.status)) == "open"  # nothing was lost
    monkeypatch.setenv("CPXM_TOKEN", admin_token)
    still_bad = runner.invoke(app, ["quarantine", "replay", str(row_id)])
    assert still_bad.exit_code == 2
    with Session(store_engine) as session:
        new_row_id = session.scalars(
            select(QuarantinedRow.id).where(QuarantinedRow.status == "open")
        ).one()
    fixed = runner.invoke(app, ["quarantine", "replay", str(new_row_id), "--set", "COUNTRY=DE"])
    assert fixed.exit_code == 0, fixed.output
    assert "created 1" in fixed.output
    assert _count(store_engine, SourceRecord) == 2
    again = runner.invoke(app, ["quarantine", "replay", str(new_row_id)])
    assert again.exit_code == 1
    assert "no longer open" in again.output
    with Session(store_engine) as session:
        entries = session.scalars(
            select(AuditLogEntry)
            .where(AuditLogEntry.action.in_(["import", "quarantine_replay"]))
            .order_by(AuditLogEntry.id)
        ).all()
    assert [(entry.action, entry.user_id) for entry in entries] == [
        ("import", None),
        ("quarantine_replay", admin_id),
        ("quarantine_replay", admin_id),
    ]
    assert entries[0].details is not None and entries[0].details["actor"] == LOCAL_OPERATOR
    assert entries[2].details is not None and entries[2].details["corrected"] == ["COUNTRY"]
    assert entries[2].details["created"] == 1


def test_an_import_with_a_token_is_audited_as_its_user_and_a_discard_too(
    store_engine: Engine, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(store_engine)
    data, mapping = files
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    with Session(store_engine) as session:
        admin = create_user(session, email="steward@example.org", role="admin")
        analyst = create_user(session, email="analyst@example.org", role="analyst")
        admin_token = create_api_token(session, user=admin).token
        analyst_token = create_api_token(session, user=analyst).token
        admin_id = admin.id
        session.commit()
    monkeypatch.setenv("CPXM_TOKEN", analyst_token)
    refused = runner.invoke(app, ["import", str(data), "-m", str(mapping)])
    assert refused.exit_code == 1 and "may not do this" in refused.output
    assert _count(store_engine, ImportRun) == 0  # refused before anything was stored
    monkeypatch.setenv("CPXM_TOKEN", admin_token)
    imported = runner.invoke(app, ["import", str(data), "-m", str(mapping), "--allow-quarantine"])
    assert imported.exit_code == 0, imported.output
    with Session(store_engine) as session:
        row_id = session.scalars(select(QuarantinedRow.id)).one()
    discarded = runner.invoke(app, ["quarantine", "discard", str(row_id)])
    assert discarded.exit_code == 0, discarded.output
    with Session(store_engine) as session:
        run = session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "import")).one()
        change = session.scalars(
            select(AuditLogEntry).where(
                AuditLogEntry.entity_type == "quarantined_rows",
                AuditLogEntry.entity_id == str(row_id),
                AuditLogEntry.action == "update",
            )
        ).one()
    assert run.user_id == admin_id and run.details is not None
    assert run.details["actor"] == "steward@example.org" and run.details["quarantined"] == 1
    assert change.user_id == admin_id and change.details is not None
    assert change.details["changes"]["status"]["new"] == "discarded"


def test_bad_mapping_and_missing_file_fail_with_one_line(
    store_engine: Engine, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data, mapping = files
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    bad = tmp_path / "bad.yaml"
    bad.write_text(MAPPING.replace("target: stakeholders", "target: invoices"), encoding="utf-8")
    result = runner.invoke(app, ["import", str(data), "-m", str(bad)])
    assert result.exit_code == 1
    assert "target 'invoices' is not one of" in result.output
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.csv"), "-m", str(mapping)])
    assert missing.exit_code == 1
    assert "does not exist" in missing.output


def _killed_midway(
    command: list[str], environment: dict[str, str], engine: Engine, model: type, rows: int
) -> int:
    """Run ``command`` and SIGKILL it once ``model`` has ``rows`` rows; the rows it left."""
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while _count(engine, model) < rows and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return _count(engine, model)


def test_import_killed_midway_is_consistent_and_completes_on_rerun(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed(store_engine)
    rows = 12_000
    data = tmp_path / "big.csv"
    with data.open("w", encoding="utf-8") as stream:
        stream.write("ID;FIRST;LAST;COUNTRY\n")
        for number in range(rows):
            stream.write(f"{number};First{number};Last{number};DE\n")
    mapping = tmp_path / "crm.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    command = [sys.executable, "-m", "cpxm", "import", str(data), "-m", str(mapping)]
    environment = {**os.environ, "CPXM_DATABASE_URL": url_of(store_engine)}
    killed = [*command, "--batch-size", "300"]
    stored = _killed_midway(killed, environment, store_engine, SourceRecord, 600)
    assert 0 < stored < rows, "the import should have been killed midway"
    # Committed batches are whole: every source record has its ledger entry and golden record.
    assert _count(store_engine, ImportLedgerEntry) == stored
    assert _count(store_engine, Stakeholder) == stored
    rerun = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert f"unchanged {stored:,}" in rerun.stdout.replace("\n", " ")
    assert _count(store_engine, SourceRecord) == rows
    assert _count(store_engine, Stakeholder) == rows
    with Session(store_engine) as session:
        statuses = sorted(session.scalars(select(ImportRun.status)))
    assert statuses == ["completed", "running"]  # the killed run stays visibly unfinished


CALLS_MAPPING = """\
source_system: crm
target: interactions
source_id: CALL
fields:
  stakeholder: ID
  occurred_at: WHEN
  channel: {value: phone}
  department: {value: sales}
"""


def test_interactions_import_in_a_fresh_process(store_engine: Engine, tmp_path: Path) -> None:
    """A process that loaded only the importer still knows every table a foreign key names
    (interactions point at journey stages); in-process tests load them all and cannot tell."""
    _seed(store_engine)
    _seed_calls(store_engine)
    (tmp_path / "crm.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "crm.csv").write_text(
        "ID;FIRST;LAST;COUNTRY\n1;Anna;Schmidt;DE\n", encoding="utf-8"
    )
    (tmp_path / "calls.yaml").write_text(CALLS_MAPPING, encoding="utf-8")
    (tmp_path / "calls.csv").write_text("CALL,ID,WHEN\nC1,1,2026-01-05\n", encoding="utf-8")
    environment = {**os.environ, "CPXM_DATABASE_URL": url_of(store_engine)}
    for name in ("crm", "calls"):
        command = [sys.executable, "-m", "cpxm", "import", str(tmp_path / f"{name}.csv")]
        result = subprocess.run(
            [*command, "-m", str(tmp_path / f"{name}.yaml")],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "created 1" in result.stdout
    assert _count(store_engine, Interaction) == 1


def test_column_import_killed_midway_is_consistent_and_completes_on_rerun(
    store_engine: Engine, tmp_path: Path
) -> None:
    """A CSV of interactions takes the column path: its batches are as whole as the rows'."""
    _seed(store_engine)
    _seed_calls(store_engine)
    (tmp_path / "crm.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "crm.csv").write_text(
        "ID;FIRST;LAST;COUNTRY\n" + "".join(f"{n};F{n};L{n};DE\n" for n in range(50)),
        encoding="utf-8",
    )
    accounts = load_mapping(tmp_path / "crm.yaml")
    import_file(store_engine, path=tmp_path / "crm.csv", mapping=accounts)
    environment = {**os.environ, "CPXM_DATABASE_URL": url_of(store_engine)}
    rows = 200_000
    with (tmp_path / "calls.csv").open("w", encoding="utf-8") as stream:
        stream.write("CALL,ID,WHEN\n")
        for number in range(rows):
            stream.write(f"C{number},{number % 50},2026-01-{number % 28 + 1:02d}\n")
    (tmp_path / "calls.yaml").write_text(CALLS_MAPPING, encoding="utf-8")
    command = [sys.executable, "-m", "cpxm", "import", str(tmp_path / "calls.csv")]
    command += ["-m", str(tmp_path / "calls.yaml"), "--batch-size", "1000"]
    stored = _killed_midway(command, environment, store_engine, Interaction, 3_000)
    assert 0 < stored < rows, "the import should have been killed midway"
    assert stored % 1000 == 0  # whole batches only
    with Session(store_engine) as session:
        ledgered = session.scalar(
            select(func.count())
            .select_from(ImportLedgerEntry)
            .where(ImportLedgerEntry.target == "interactions")
        )
    assert ledgered == stored
    rerun = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert f"unchanged {stored:,}" in rerun.stdout.replace("\n", " ")
    assert _count(store_engine, Interaction) == rows
