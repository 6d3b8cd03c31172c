"""The PV triage list in Chromium works like the queue and every other list: a total, 50 a page,
newest first, a sort, a search and a CSV of exactly what is filtered, in the list's order."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.auth.service import create_user
from cpxm.safety.screening import screen_items
from tests.factories import make_taxonomy
from tests.safety.helpers import make_feedback

PASSWORD = "correct horse battery staple 42"
START = datetime(2026, 11, 2, 9, 0)
NEGATED = 52  # more than a page
HYPOTHETICAL = 3


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        make_taxonomy(session)
        create_user(session, email="pv@pharma.example", role="pv_officer", password=PASSWORD)
        items = [
            make_feedback(
                session,
                f"Visit {number}: no side effects at all with Immuny, which is a relief.",
                received_at=START + timedelta(hours=number),
            )
            for number in range(NEGATED)
        ]
        items += [
            make_feedback(
                session,
                f"Call {number}: if Oncox gives me a rash I will stop it.",
                source_kind="call_note",
                received_at=START - timedelta(days=number + 1),
            )
            for number in range(HYPOTHETICAL)
        ]
        screen_items(session, items=items, now=START + timedelta(days=3))
        session.commit()


def _entries(page: Any) -> list[int]:
    cells = page.locator("table.data-table tbody tr td:first-child").all_inner_texts()
    return [int(re.match(r"#(\d+)", cell).group(1)) for cell in cells]  # type: ignore[union-attr]


def _download(page: Any) -> list[dict[str, str]]:
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("^CSV of these")).click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_triage_list_counts_pages_sorts_searches_and_exports(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    _seed(live_store)
    total = NEGATED + HYPOTHETICAL
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{live_server}/auth/sign-in")
    page.get_by_label("Email").fill("pv@pharma.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/safety/triage")

    # A total, a page of 50, newest first.
    assert f"{total} entries; showing 1–50" in page.locator(".list-count").inner_text()
    first_page = _entries(page)
    assert len(first_page) == 50
    assert "Visit 51:" in page.locator("table.data-table tbody tr").first.inner_text()
    page.get_by_role("link", name="Next 50 →").click()
    assert len(_entries(page)) == total - 50
    assert "Call 2:" in page.locator("table.data-table tbody tr").last.inner_text()

    # Oldest first, then searched by the product as written.
    page.get_by_label("Sort").select_option("oldest")
    page.get_by_role("button", name="Show").click()
    assert "Call 2:" in page.locator("table.data-table tbody tr").first.inner_text()
    page.get_by_label("Search").fill("ONCOX")
    page.get_by_role("button", name="Show").click()
    assert f"{HYPOTHETICAL} entries" in page.locator(".list-count").inner_text()
    searched = _entries(page)
    assert len(searched) == HYPOTHETICAL

    # The CSV holds exactly the filtered entries, in the list's order.
    rows = _download(page)
    assert [int(row["entry_id"]) for row in rows] == searched
    assert all("Oncox" in row["sentence"] and row["status"] == "pending" for row in rows)
    assert {row["reasons"] for row in rows} == {"hypothetical"}

    # The unfiltered CSV holds every entry, not one page.
    page.get_by_label("Search").fill("")
    page.get_by_role("button", name="Show").click()
    assert len(_download(page)) == total

    # Products are picked and shown by their names, not their codes.
    page.locator("select[name=product_code]").select_option(label="Immuny")
    page.get_by_role("button", name="Show").click()
    assert f"{NEGATED} entries" in page.locator(".list-count").inner_text()
    products = page.locator("table.data-table tbody tr td:nth-child(6)").all_inner_texts()
    assert set(products) == {"Immuny"}
    context.close()
