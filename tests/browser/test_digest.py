"""The monthly digest page in real Chromium: read it, switch audience, download its PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.auth.service import create_user
from tests.digest.test_digest import _store
from tests.pdf import pdf_text

PASSWORD = "correct horse battery staple 42"


def test_a_cx_lead_reads_the_digest_switches_audience_and_downloads_the_pdf(
    browser: Any, live_server: str, live_store: Engine
) -> None:
    with Session(live_store) as session:
        _store(session)
        create_user(session, email="lead@pharma.example", role="cx_lead", password=PASSWORD)
        session.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/digest?month=2025-06")
    page.wait_for_url("**/auth/sign-in**")
    page.get_by_label("Email").fill("lead@pharma.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/digest?month=2025-06")
    assert page.get_by_role("heading", name="Monthly digest · Leadership · June 2025").is_visible()
    nps = page.locator("#digest-headlines tbody tr").first.inner_text()
    assert "-50.0" in nps and "significant" in nps
    chart = page.get_by_alt_text("NPS by month over the last 12 months with its 95% interval")
    assert chart.evaluate("image => image.complete && image.naturalWidth > 0")
    assert "Dr Quiet 0" in page.locator("body").inner_text()  # a CX lead may see the names

    page.get_by_label("Audience").select_option("department:medical_affairs")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**audience=department%3Amedical_affairs**")
    assert page.get_by_role(
        "heading", name="Monthly digest · Medical Affairs · June 2025"
    ).is_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert "CX digest · Medical Affairs · June 2025" in " ".join(pdf_text(pdf).split())
    context.close()
