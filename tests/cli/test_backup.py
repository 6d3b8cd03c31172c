"""``cpxm backup`` and ``cpxm restore`` as a user runs them, while another process writes.

SQLite: backups taken while a ``cpxm import`` process commits batch after batch must each hold
whole batches only, pass SQLite's integrity check, and restore into a fresh store that answers
the same counts. PostgreSQL: ``pg_dump`` of a store being imported into, ``pg_restore`` into a new
database, and ``cpxm`` works on the restored store (docs/operations.md).
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from cpxm.backup import StoreSnapshot, backup_store, store_snapshot
from cpxm.cli import app
from cpxm.db import make_engine
from cpxm.migrate import upgrade_database
from cpxm.schema import metadata
from tests.conftest import postgres_test_url

CPXM = str(Path(sys.executable).with_name("cpxm"))
CRM_COLUMNS = [
    *("account_id", "account_type", "first_name", "last_name", "account_name", "specialty"),
    *("professional_id", "email", "phone", "address_line", "postal_code", "city", "country"),
    "language",
]
BATCH = 1_000
runner = CliRunner()


def _crm_export(path: Path, rows: int, *, first: int = 0) -> Path:
    with path.open("w", encoding="utf-8", newline="") as export:
        writer = csv.writer(export, delimiter=";")
        writer.writerow(CRM_COLUMNS)
        for number in range(first, first + rows):
            writer.writerow(
                [
                    *(f"A{number}", "Physician", f"Anna{number}", f"Schmidt{number}", ""),
                    *("Oncology", "", f"a{number}@praxis.example", "", "", "", "Berlin", "", "de"),
                ]
            )
    return path


def _cpxm(*arguments: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CPXM, *arguments],
        env={**os.environ, "CPXM_DATABASE_URL": url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _start_import(export: Path, *, url: str) -> subprocess.Popen[str]:
    command = [CPXM, "import", str(export), "-m", "crm-accounts", f"--batch-size={BATCH}"]
    return subprocess.Popen(
        command,
        env={**os.environ, "CPXM_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _assert_whole_batches(counts: dict[str, int], *, total: int) -> int:
    """Every stored stakeholder row came with its source record and ledger entry, by batches."""
    stored = counts["stakeholders"]
    assert counts["source_records"] == counts["import_ledger"] == stored, counts
    assert stored % BATCH == 0 or stored == total, stored
    return stored


def _sqlite_store(path: Path) -> tuple[Engine, str]:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade_database(engine)
    return engine, url


def test_backups_taken_while_an_import_runs_restore_to_the_same_counts(tmp_path: Path) -> None:
    engine, url = _sqlite_store(tmp_path / "live" / "cpxm.db")
    total = 80_000
    export = _crm_export(tmp_path / "accounts.csv", total)
    importer = _start_import(export, url=url)
    snapshots: list[tuple[Path, StoreSnapshot]] = []
    try:
        while importer.poll() is None:
            out = tmp_path / f"backup-{len(snapshots)}.db"
            report = backup_store(engine, out=out)
            snapshots.append((out, report.snapshot))
            time.sleep(0.2)
        assert importer.wait(timeout=300) == 0, importer.stderr.read() if importer.stderr else ""
        by_cli = _cpxm("backup", str(tmp_path / "final.db"), url=url, cwd=tmp_path)
    finally:
        importer.kill()
        importer.communicate()
    engine.dispose()

    assert by_cli.returncode == 0, by_cli.stderr
    assert "integrity checked" in by_cli.stdout
    stored = [_assert_whole_batches(snapshot.counts, total=total) for _, snapshot in snapshots]
    midway = [
        (out, snapshot)
        for (out, snapshot), rows in zip(snapshots, stored, strict=True)
        if 0 < rows < total
    ]
    assert len(midway) >= 2, stored  # the backups really ran beside the writer
    assert stored == sorted(stored)
    for out, snapshot in snapshots:
        assert store_snapshot(out) == snapshot  # the file holds what the report said
    assert _assert_whole_batches(store_snapshot(tmp_path / "final.db").counts, total=total) == total

    backup, snapshot = midway[len(midway) // 2]
    restored_url = f"sqlite:///{tmp_path / 'restored' / 'cpxm.db'}"
    (tmp_path / "restored").mkdir()
    restored = _cpxm("restore", str(backup), url=restored_url, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert f"{snapshot.rows:,} rows in {len(snapshot.counts)} tables" in restored.stdout
    assert store_snapshot(tmp_path / "restored" / "cpxm.db") == snapshot
    # The restored store works: the same import completes it, adding only the missing rows.
    completed = _cpxm("import", str(export), "-m", "crm-accounts", url=restored_url, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    missing = total - snapshot.counts["stakeholders"]
    assert f"created {missing:,}  updated 0  unchanged {total - missing:,}" in completed.stdout


def test_backup_and_restore_refuse_what_they_cannot_vouch_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, url = _sqlite_store(tmp_path / "cpxm.db")
    monkeypatch.setenv("CPXM_DATABASE_URL", url)
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"keep me")

    refused = runner.invoke(app, ["backup", str(existing)])
    assert refused.exit_code == 1
    assert f"{existing} exists; use --force to replace it" in refused.output
    assert existing.read_bytes() == b"keep me"
    forced = runner.invoke(app, ["backup", str(existing), "--force"])
    assert forced.exit_code == 0, forced.output
    assert store_snapshot(existing).revision == store_snapshot(tmp_path / "cpxm.db").revision
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []

    not_sqlite = runner.invoke(app, ["restore", str(_crm_export(tmp_path / "a.csv", 1))])
    assert not_sqlite.exit_code == 1
    assert "is not a SQLite file, so not a backup by `cpxm backup`" in not_sqlite.output

    with closing(sqlite3.connect(tmp_path / "other.db")) as other:
        other.execute("CREATE TABLE notes (body TEXT)")
    not_ours = runner.invoke(app, ["restore", str(tmp_path / "other.db")])
    assert "other.db is not a CPXM store: it has no schema revision" in not_ours.output

    newer = tmp_path / "newer.db"
    shutil.copyfile(existing, newer)
    with closing(sqlite3.connect(newer)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    from_newer = runner.invoke(app, ["restore", str(newer)])
    assert from_newer.exit_code == 1
    assert "is from a newer CPXM (schema revision 9999; this version knows up to" in (
        from_newer.output
    )

    damaged = tmp_path / "damaged.db"
    image = bytearray(existing.read_bytes())
    image[4096 * 3 : 4096 * 3 + 64] = b"\xff" * 64  # a b-tree page header overwritten
    damaged.write_bytes(bytes(image))
    refused_damaged = runner.invoke(app, ["restore", str(damaged)])
    assert refused_damaged.exit_code == 1
    assert "damaged.db" in refused_damaged.output
    assert "integrity check" in refused_damaged.output or "cannot be read" in (
        refused_damaged.output
    )

    # An empty store takes a backup; one holding data takes it only with --force.
    three = _crm_export(tmp_path / "b.csv", 3)
    assert _cpxm("import", str(three), "-m", "crm-accounts", url=url, cwd=tmp_path).returncode == 0
    full = tmp_path / "full.db"
    assert runner.invoke(app, ["backup", str(full)]).exit_code == 0
    target = tmp_path / "target.db"
    monkeypatch.setenv("CPXM_DATABASE_URL", f"sqlite:///{target}")
    assert runner.invoke(app, ["init"]).exit_code == 0
    first = runner.invoke(app, ["restore", str(full)])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["restore", str(existing)])
    assert again.exit_code == 1
    assert (
        "is not empty (11 rows in 5 tables beyond what `cpxm init` creates); "
        "use --force to replace it"
    ) in again.output
    assert store_snapshot(target).counts["stakeholders"] == 3
    replaced = runner.invoke(app, ["restore", str(existing), "--force"])
    assert replaced.exit_code == 0, replaced.output
    assert store_snapshot(target).counts["stakeholders"] == 0
    engine.dispose()


def test_a_postgresql_store_is_backed_up_with_pg_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_test_url("backup_")
    monkeypatch.setenv("CPXM_DATABASE_URL", url)
    refused = runner.invoke(app, ["backup", "out.db"])
    assert refused.exit_code == 1
    assert "is PostgreSQL: back it up with pg_dump" in refused.output
    assert "see docs/operations.md" in refused.output
    assert not Path("out.db").exists()
    assert runner.invoke(app, ["restore", "out.db"]).exit_code == 1


def _libpq(url: str) -> str:
    """The URL as pg_dump and psql take it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in metadata.sorted_tables
        }
    engine.dispose()
    return counts


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_pg_dump_taken_while_an_import_runs_restores_into_a_working_store(
    tmp_path: Path,
) -> None:
    source_url = postgres_test_url("dumped_")
    restored_url = postgres_test_url("restored_")
    assert _cpxm("init", url=source_url, cwd=tmp_path).returncode == 0
    total = 60_000
    export = _crm_export(tmp_path / "accounts.csv", total)
    importer = _start_import(export, url=source_url)
    dump = tmp_path / "cpxm.dump"
    try:
        engine = create_engine(source_url)
        with engine.connect() as connection:
            while not connection.scalar(text("SELECT count(*) FROM stakeholders")):
                assert importer.poll() is None, "the import ended before the dump could start"
                time.sleep(0.05)
        engine.dispose()
        dumped = subprocess.run(
            ["pg_dump", "--format=custom", f"--file={dump}", _libpq(source_url)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert importer.wait(timeout=300) == 0
    finally:
        importer.kill()
        importer.communicate()
    assert dumped.returncode == 0, dumped.stderr

    loaded = subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(restored_url)}", dump],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr

    counts = _postgres_counts(restored_url)
    stored = _assert_whole_batches(counts, total=total)
    assert 0 < stored <= total
    current = _cpxm("db", "current", url=restored_url, cwd=tmp_path)
    assert "up to date" in current.stdout, current.stdout + current.stderr
    checked = _cpxm("analytics", "check", url=restored_url, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    completed = _cpxm("import", str(export), "-m", "crm-accounts", url=restored_url, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert f"created {total - stored:,}  updated 0  unchanged {stored:,}" in completed.stdout
    assert _postgres_counts(restored_url)["stakeholders"] == total


def test_a_backup_from_an_older_schema_is_restored_and_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    previous = upgrade_database(older, "0011")
    backup = tmp_path / "older-backup.db"
    report = backup_store(older, out=backup)
    older.dispose()
    assert report.snapshot.revision == previous == "0011"
    target = tmp_path / "restored.db"
    monkeypatch.setenv("CPXM_DATABASE_URL", f"sqlite:///{target}")

    restored = runner.invoke(app, ["restore", str(backup)])

    assert restored.exit_code == 0, restored.output
    head = upgrade_database(make_engine(f"sqlite:///{target}"))
    assert head != previous
    assert f"schema revision 0011, upgraded to {head}" in " ".join(restored.output.split())
    assert store_snapshot(target).revision == head
