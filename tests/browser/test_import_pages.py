"""A data steward imports a CRM export in Chromium against ``cpxm serve`` with its worker: a bad
file refused on the page, a dry run that shows rows as they would be stored and why one would be
quarantined, the import run in the background, the quarantined row fixed and replayed, and the
same file imported again changing nothing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.db import make_engine
from tests.factories import make_taxonomy
from tests.served import PASSWORD, served

CRM = """\
account_id;account_type;first_name;last_name;account_name;specialty;professional_id;email;phone;address_line;postal_code;city;country;language
ACC-1;Physician;Anna;Schmidt;;Oncology;1234567890;anna.schmidt@praxis.example;;;10115;Berlin;DE;de
ACC-2;Astronaut;Jonas;Weber;;Cardiology;2345678901;j.weber@klinikum.example;;;80331;Munich;DE;de
ACC-3;Physician;Lena;Vogel;;Neurology;3456789012;l.vogel@klinikum.example;;;20095;Hamburg;DE;de
"""


def _store(tmp_path: Path, template: Path) -> str:
    path = tmp_path / "store.db"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    engine: Engine = make_engine(url)
    with Session(engine) as session:
        make_taxonomy(session)
        session.commit()
    engine.dispose()
    return url


def _run_finished(page: Any) -> None:
    """Wait on the run page (it refreshes itself) until the worker has finished the run."""
    page.wait_for_function(
        "() => /Completed|Failed/.test(document.querySelector('#run-status')?.innerText || '')",
        timeout=60_000,
    )


def test_a_steward_dry_runs_imports_and_works_the_quarantine(
    browser: Any, tmp_path: Path, _sqlite_template: Path
) -> None:
    url = _store(tmp_path, _sqlite_template)
    crm = tmp_path / "crm-accounts.csv"
    crm.write_text(CRM, encoding="utf-8")
    notes = tmp_path / "notes.pdf"
    notes.write_bytes(b"%PDF-1.4 not a table")
    with served(url, tmp_path) as running:
        email = running.user("admin")
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{running.url}/imports")
        page.wait_for_url("**/auth/sign-in**")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/imports")
        assert "Imports" in page.get_by_role("navigation", name="Main").inner_text()

        # A file CPXM cannot read is answered on the page, with what to do.
        page.get_by_label("File").set_input_files(str(notes))
        page.get_by_label("Mapping template").select_option("crm-accounts")
        page.get_by_role("button", name="Dry run").click()
        error = page.locator("#upload-error")
        assert "cannot import 'notes.pdf'" in error.inner_text()
        assert "upload a .csv" in error.inner_text()

        page.get_by_label("File").set_input_files(str(crm))
        page.get_by_label("Mapping template").select_option("crm-accounts")
        page.get_by_role("button", name="Dry run").click()
        page.wait_for_url("**/imports/upload")
        assert page.locator("#dry-read").inner_text() == "3"
        assert page.locator("#dry-created").inner_text() == "2"
        assert page.locator("#dry-quarantined").inner_text() == "1"
        preview = page.locator("#dry-preview").inner_text()
        assert "Schmidt" in preview and "hcp" in preview  # stored as CPXM's type, not "Physician"
        assert "Astronaut" in page.locator("#dry-reasons").inner_text()

        page.get_by_role("button", name="Import these 3 rows").click()
        page.wait_for_url(re.compile(r".*/imports/\d+$"))
        run_url = page.url
        _run_finished(page)
        assert page.locator("#run-created").inner_text() == "2"
        assert page.locator("#run-quarantined").inner_text() == "1"

        # Fix the value in the page and replay the row: it is stored.
        row = page.locator(".quarantined-row").first
        assert "Astronaut" in row.inner_text()
        row.get_by_label("account_type").fill("Physician")
        row.get_by_role("button", name=re.compile("Replay row")).click()
        page.wait_for_url("**note=**")
        assert "Row replayed with account_type → 'Physician' and stored" in page.content()
        assert "No open quarantined rows." in page.content()

        # The same file again: nothing already stored changes.
        page.goto(f"{running.url}/imports")
        page.get_by_label("File").set_input_files(str(crm))
        page.get_by_label("Mapping template").select_option("crm-accounts")
        page.get_by_role("button", name="Import now").click()
        page.wait_for_url(re.compile(r".*/imports/\d+$"))
        assert page.url != run_url
        _run_finished(page)
        assert page.locator("#run-created").inner_text() == "0"
        assert page.locator("#run-unchanged").inner_text() == "2"
        context.close()
        assert "Traceback" not in running.log_text()


def test_a_running_import_shows_its_share_of_the_file(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    from datetime import datetime

    from cpxm.auth.service import create_user
    from cpxm.ingest.models import ImportRun

    with Session(live_store) as session:
        make_taxonomy(session)
        create_user(session, email="admin@pharma.example", role="admin", password=PASSWORD)
        run = ImportRun(
            source_system="crm",
            target="stakeholders",
            mapping_name="crm-accounts",
            mapping={},
            file_name="crm-accounts.csv",
            status="running",
            started_at=datetime(2026, 12, 6, 8, 0),
            rows_read=2_000,
            rows_expected=5_000,
        )
        session.add(run)
        session.commit()
        run_id = run.id
    page = browser.new_context().new_page()
    page.goto(f"{live_server}/imports/{run_id}")
    page.get_by_label("Email").fill("admin@pharma.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/imports/{run_id}")
    assert "2,000 of about 5,000 rows read (40%)" in page.locator("#run-status").inner_text()
    bar = page.locator("#run-progress")
    assert bar.get_attribute("value") == "2000" and bar.get_attribute("max") == "5000"
    # The page refreshes itself: the worker's next batch shows without a click.
    with Session(live_store) as session:
        stored = session.get_one(ImportRun, run_id)
        stored.rows_read, stored.status = 5_000, "completed"
        stored.finished_at = datetime(2026, 12, 6, 8, 0, 4)
        session.commit()
    page.wait_for_function(
        "() => /Completed/.test(document.querySelector('#run-status').innerText)", timeout=10_000
    )
    assert page.locator("#run-progress").count() == 0
    assert page.locator("#run-read").inner_text() == "5,000"
