"""The quarantine as a working list in Chromium, like cases and the PV queue: a total, 50 rows a
page, search, a status and source filter, a sort, a CSV of exactly what is filtered, and a row
fixed from the list that comes back to the same filtered list."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.auth.service import create_user
from cpxm.ingest.mapping import resolve_mapping
from cpxm.ingest.service import import_file
from tests.factories import make_taxonomy

PASSWORD = "correct horse battery staple 42"
HEADER = (
    "account_id;account_type;first_name;last_name;account_name;specialty;professional_id;"
    "email;phone;address_line;postal_code;city;country;language"
)
BAD_ROWS = 62  # more than a page


def _seed(engine: Engine, tmp_path: Path) -> int:
    with Session(engine) as session:
        make_taxonomy(session)
        create_user(session, email="admin@pharma.example", role="admin", password=PASSWORD)
        session.commit()
    lines = [HEADER]
    for number in range(1, BAD_ROWS + 1):
        kind = "Astronaut" if number != 7 else "Cosmonaut"
        lines.append(
            f"ACC-{number:03d};{kind};Anna{number};Schmidt;;Oncology;;"
            f"anna{number}@praxis.example;;;10115;Berlin;DE;de"
        )
    lines.append("ACC-900;Physician;Lena;Vogel;;Neurology;;l.vogel@k.example;;;20095;Hamburg;DE;de")
    path = tmp_path / "crm-accounts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(engine, path=path, mapping=resolve_mapping("crm-accounts"))
    assert report.quarantined == BAD_ROWS and report.created == 1
    assert report.run_id is not None
    return report.run_id


def test_the_quarantine_is_a_working_list(
    browser: Any, live_server: str, live_store: Engine, tmp_path: Path
) -> None:
    run_id = _seed(live_store, tmp_path)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/imports")
    page.get_by_label("Email").fill("admin@pharma.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/imports")
    assert f"({BAD_ROWS} open)" in page.locator(".toc").inner_text()
    page.get_by_role("link", name=re.compile("Quarantine: every run")).click()
    page.wait_for_url("**/imports/quarantine")

    # A total and a page of 50, oldest first, with a pager.
    assert (
        f"{BAD_ROWS} open quarantined row(s); showing 1–50"
        in page.locator(".list-count").inner_text()
    )
    assert page.locator(".quarantined-row").count() == 50
    assert "(ACC-001)" in page.locator(".quarantined-row h3").first.inner_text()
    page.get_by_role("link", name="Next 50 →").click()
    assert page.locator(".quarantined-row").count() == BAD_ROWS - 50

    # Sorted newest first, then searched by a value of the row.
    page.get_by_label("Sort").select_option("newest")
    page.get_by_role("button", name="Show").click()
    assert f"(ACC-{BAD_ROWS:03d})" in page.locator(".quarantined-row h3").first.inner_text()
    page.get_by_label("Search").fill("cosmonaut")
    page.get_by_role("button", name="Show").click()
    assert "1 open quarantined row(s)." in page.locator(".list-count").inner_text()
    assert "(ACC-007)" in page.locator(".quarantined-row h3").inner_text()
    assert f"Run {run_id}" in page.locator(".quarantined-row h3").inner_text()

    # The CSV holds exactly what the list filters.
    link = page.get_by_role("link", name="CSV of these 1 row(s)")
    answer = page.request.get(f"{live_server}{link.get_attribute('href')}")
    assert answer.status == 200
    rows = list(csv.DictReader(io.StringIO(answer.text())))
    assert [row["source_id"] for row in rows] == ["ACC-007"]
    assert "Cosmonaut" in rows[0]["values"] and rows[0]["status"] == "open"

    # Fixed from the list: stored, and the list comes back with its filters.
    row = page.locator(".quarantined-row").first
    row.get_by_label("account_type").fill("Physician")
    row.get_by_role("button", name=re.compile("Replay row")).click()
    page.wait_for_url("**/imports/quarantine?**note=**")
    assert "account_type → 'Physician' and stored" in page.locator(".form-ok").inner_text()
    assert page.get_by_label("Search").input_value() == "cosmonaut"
    assert "No quarantined rows with these filters." in page.content()

    # Every status: the replayed row is there, marked so; a source filter of another system
    # finds nothing.
    page.goto(f"{live_server}/imports/quarantine?status=all&q=cosmonaut")
    assert "Replayed" in page.locator(".quarantined-row h3").inner_text()
    page.goto(f"{live_server}/imports/quarantine?source=no-such-system")
    assert "0 open quarantined row(s)." in page.locator(".list-count").inner_text()

    # One run's page lists the same rows with the same tools.
    page.goto(f"{live_server}/imports/{run_id}?q=ACC-01&sort=row")
    assert "10 open quarantined row(s)." in page.locator(".list-count").inner_text()
    assert "(ACC-010)" in page.locator(".quarantined-row h3").first.inner_text()
    context.close()
